//! Partial updates: apigatewayv2's `Update*` operations change only the members a request carries.
//!
//! Every optional request member meets its record field through [`Patch`]: an absent member leaves
//! the field alone, a present one replaces it (for an optional field, with `Some`). Members that
//! need checking go through [`Patch::patch_checked`], so a bad value changes nothing.

use crate::GatewayError;

/// A record field an optional request member may replace.
pub(crate) trait Patch<T> {
    /// Replaces the field with the member's value when the request carried it.
    fn patch(&mut self, member: Option<T>);

    /// Same, after `check` accepted the value.
    fn patch_checked(
        &mut self,
        member: Option<T>,
        check: impl FnOnce(&T) -> Result<(), GatewayError>,
    ) -> Result<(), GatewayError> {
        if let Some(value) = &member {
            check(value)?;
        }
        self.patch(member);
        Ok(())
    }
}

/// A required field (`autoDeploy`, `tags`, …).
impl<T> Patch<T> for T {
    fn patch(&mut self, member: Option<T>) {
        if let Some(value) = member {
            *self = value;
        }
    }
}

/// An optional field (`description`, `integrationUri`, …).
impl<T> Patch<T> for Option<T> {
    fn patch(&mut self, member: Option<T>) {
        if member.is_some() {
            *self = member;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_members_leave_fields_alone() {
        let mut description: Option<String> = Some("old".into());
        description.patch(None::<String>);
        assert_eq!(description.as_deref(), Some("old"));
        description.patch(Some(String::from("new")));
        assert_eq!(description.as_deref(), Some("new"));

        let mut auto_deploy = false;
        auto_deploy.patch(None);
        assert!(!auto_deploy);
        auto_deploy.patch(Some(true));
        assert!(auto_deploy);
    }

    #[test]
    fn a_refused_value_changes_nothing() {
        let mut timeout = 30_000i64;
        let refuse = |_: &i64| Err(GatewayError::bad_request("no"));
        assert!(timeout.patch_checked(Some(5), refuse).is_err());
        assert_eq!(timeout, 30_000);
        timeout.patch_checked(Some(50), |_| Ok(())).unwrap();
        assert_eq!(timeout, 50);
    }
}
