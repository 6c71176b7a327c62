//! The scheduler: wakes every 1/20 of a schedule minute (20 ms to 1 s) and fires the schedule
//! rules whose next tick has come — the tick recorded in the rule's document first, then
//! delivered, so a crash between the two loses that tick rather than firing it twice.

use std::sync::Arc;
use std::time::Duration;

use nubo_wire::Scope;
use serde_json::json;

use crate::registry::{iso_seconds, now_ms, EventRules};
use crate::rules::Compiled;
use crate::EventsError;

impl EventRules {
    /// Fires every enabled schedule rule whose next tick has come: the tick is recorded first,
    /// then delivered (at most once per tick, also across a crash). Ticks missed while the
    /// server was down fire once, as the latest of them.
    async fn fire_due(&self) {
        let now = now_ms();
        let minute = self.config.minute_ms;
        let due: Vec<(Arc<Compiled>, i64)> = self
            .rules
            .read()
            .values()
            .filter(|r| r.record.enabled)
            .filter_map(|r| {
                let schedule = r.schedule.as_ref()?;
                let after = r.record.last_fired_ms.unwrap_or(r.record.created_ms);
                let mut tick = schedule.next_after(after, r.record.created_ms, minute)?;
                if tick > now {
                    return None;
                }
                for _ in 0..100_000 {
                    match schedule.next_after(tick, r.record.created_ms, minute) {
                        Some(next) if next <= now => tick = next,
                        _ => break,
                    }
                }
                Some((r.clone(), tick))
            })
            .collect();
        for (rule, tick) in due {
            let record = &rule.record;
            let fired = self
                .modify(
                    &Scope {
                        region: record.region.clone(),
                        account_id: record.account.clone(),
                    },
                    Some(&record.event_bus),
                    &record.name,
                    |r| {
                        if r.last_fired_ms.is_some_and(|last| last >= tick) {
                            return Err(EventsError::Validation("already fired".into()));
                        }
                        r.last_fired_ms = Some(tick);
                        Ok(())
                    },
                )
                .await;
            if let Ok(rule) = fired {
                let event = json!({
                    "version": "0",
                    "id": uuid::Uuid::new_v4().to_string(),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": rule.record.account,
                    "time": iso_seconds(tick),
                    "region": rule.record.region,
                    "resources": [rule.record.arn()],
                    "detail": {},
                });
                self.deliver(&rule.record, &event).await;
            }
        }
    }
}

pub(crate) async fn run(rules: std::sync::Weak<EventRules>) {
    loop {
        let interval = match rules.upgrade() {
            Some(r) => Duration::from_millis((r.config.minute_ms / 20).clamp(20, 1000) as u64),
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(rules) = rules.upgrade() else {
            return;
        };
        rules.fire_due().await;
    }
}
