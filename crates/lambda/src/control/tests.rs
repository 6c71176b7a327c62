//! The registry against a real SQLite store: versions, aliases, reservations, scopes, reloads.

use std::collections::BTreeMap;

use bytes::Bytes;
use nubo_store::{CodeStore, Precondition, StoreConfig};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AliasName, FunctionName, Qualifier, Scope};

use super::*;
use crate::control::collections;
use crate::control::records::{ConfigurationUpdate, FunctionSpec};

fn zip(body: &str) -> Bytes {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(body.as_bytes()).unwrap();
    Bytes::from(writer.finish().unwrap().into_inner())
}

fn spec(name: &str) -> FunctionSpec {
    FunctionSpec {
        name: FunctionName::new(name).unwrap(),
        runtime: "python3.12".into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        handler: Some("app.handler".into()),
        description: String::new(),
        timeout_seconds: 3,
        memory_mb: 128,
        ephemeral_storage_mb: 512,
        environment: BTreeMap::new(),
        environment_set: false,
        tags: BTreeMap::new(),
        architectures: vec!["x86_64".into()],
        tracing_mode: "PassThrough".into(),
        layers: Vec::new(),
        dead_letter_target: None,
        log_format: "Text".into(),
        logging: Default::default(),
    }
}

fn home() -> Scope {
    Scope::default()
}

fn west() -> Scope {
    Scope {
        region: "eu-west-1".into(),
        ..Scope::default()
    }
}

fn at(scope: &Scope, name: &str, qualifier: Option<&str>) -> FunctionRef {
    FunctionRef::new(
        scope.clone(),
        FunctionName::new(name).unwrap(),
        qualifier.map(|q| Qualifier::new(q).unwrap()),
    )
}

fn f(qualifier: Option<&str>) -> FunctionRef {
    at(&home(), "f", qualifier)
}

/// Waits until every change of the functions these tests use has settled (Pending → Active,
/// InProgress → Successful), as a client would with a waiter.
async fn settle(registry: &Registry) {
    for scope in [home(), west()] {
        for name in ["f", "g"] {
            let settled = registry
                .wait_settled(&at(&scope, name, None), std::time::Duration::from_secs(5))
                .await;
            assert!(settled, "{name} never settled");
        }
    }
}

async fn open(dir: &std::path::Path) -> std::sync::Arc<Registry> {
    let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
    let code = CodeStore::with_blobs(dir, stores.blobs).unwrap();
    Registry::load(stores.documents, code, home())
        .await
        .unwrap()
}

#[tokio::test]
async fn versions_are_immutable_numbered_and_survive_reload() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    let v1 = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(v1.version, "1");
    // Unchanged $LATEST: the same version again.
    let again = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(again.revision_id, v1.revision_id);
    registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap();
    settle(&registry).await;
    let v2 = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(v2.version, "2");
    assert_ne!(v1.code.sha256_hex, v2.code.sha256_hex);
    registry.delete(&f(Some("2"))).await.unwrap();
    registry
        .update_configuration(
            &f(None),
            ConfigurationUpdate {
                description: Some("changed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    settle(&registry).await;
    drop(registry);

    let registry = open(dir.path()).await;
    let versions: Vec<String> = registry
        .versions_of(&home(), "f")
        .unwrap()
        .iter()
        .map(|v| v.version.clone())
        .collect();
    assert_eq!(versions, ["$LATEST", "1"]);
    assert_eq!(registry.resolve(&f(Some("1"))).unwrap().code, v1.code);
    // Numbers are never reused, even after a delete and a reload.
    let v3 = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(v3.version, "3");
}

#[tokio::test]
async fn aliases_validate_their_targets_and_route_by_weight() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap();
    settle(&registry).await;
    registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();

    let a = AliasName::new("a", "name").unwrap();
    let missing = registry
        .create_alias(&f(None), &a, "9", String::new(), BTreeMap::new())
        .await;
    assert!(matches!(missing, Err(ControlError::NotFound(_))));
    let weights = |w: f64| BTreeMap::from([("2".to_owned(), w)]);
    let heavy = registry
        .create_alias(&f(None), &a, "1", String::new(), weights(1.5))
        .await;
    assert!(matches!(heavy, Err(ControlError::Validation(_))));
    let latest = registry
        .create_alias(&f(None), &a, LATEST, String::new(), weights(0.5))
        .await;
    assert!(matches!(latest, Err(ControlError::InvalidParameter(_))));

    registry
        .create_alias(&f(None), &a, "1", String::new(), weights(0.5))
        .await
        .unwrap();
    assert!(matches!(
        registry
            .create_alias(&f(None), &a, "1", String::new(), BTreeMap::new())
            .await,
        Err(ControlError::Conflict(_))
    ));
    assert_eq!(registry.resolve(&f(Some("a"))).unwrap().version, "1");
    let twos = (0..2000)
        .filter(|_| registry.resolve_for_invoke(&f(Some("a"))).unwrap().version == "2")
        .count();
    assert!(
        (800..1200).contains(&twos),
        "{twos} of 2000 went to version 2"
    );
    assert!(matches!(
        registry.delete(&f(Some("2"))).await,
        Err(ControlError::Conflict(_))
    ));
}

#[tokio::test]
async fn reservations_keep_the_unreserved_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    registry
        .create(&home(), spec("g"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    let g = at(&home(), "g", None);
    registry
        .set_reserved_concurrency(&f(None), Some(600), 1000)
        .await
        .unwrap();
    // 600 + 301 would leave 99 unreserved, under the minimum of 100.
    assert!(matches!(
        registry.set_reserved_concurrency(&g, Some(301), 1000).await,
        Err(ControlError::InvalidParameter(_))
    ));
    registry
        .set_reserved_concurrency(&g, Some(300), 1000)
        .await
        .unwrap();
    assert_eq!(registry.reserved_total(&home()), 900);
    // Changing a reservation replaces it rather than adding to it.
    registry
        .set_reserved_concurrency(&f(None), Some(10), 1000)
        .await
        .unwrap();
    assert_eq!(registry.reserved_total(&home()), 310);
    registry.delete(&g).await.unwrap();
    assert_eq!(registry.reserved_total(&home()), 10);
    // Another region's limit is its own.
    assert_eq!(registry.reserved_total(&west()), 0);
    drop(registry);
    assert_eq!(open(dir.path()).await.reserved_total(&home()), 10);
}

#[tokio::test]
async fn scopes_keep_same_named_functions_apart() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let east = registry
        .create(&home(), spec("f"), zip("east"))
        .await
        .unwrap();
    settle(&registry).await;
    assert!(registry.resolve(&at(&west(), "f", None)).is_err());
    let west_f = registry
        .create(&west(), spec("f"), zip("west"))
        .await
        .unwrap();
    settle(&registry).await;
    assert_ne!(east.code, west_f.code);
    assert_eq!(registry.list(&home()).len(), 1);
    assert_eq!(registry.list(&west()).len(), 1);
    assert_eq!(registry.count(), 2);
    registry.delete(&at(&west(), "f", None)).await.unwrap();
    assert!(registry.get(&west(), "f").is_none());
    assert_eq!(registry.get(&home(), "f").unwrap().code, east.code);
    registry
        .create(&west(), spec("f"), zip("west"))
        .await
        .unwrap();
    settle(&registry).await;
    drop(registry);

    let registry = open(dir.path()).await;
    assert_eq!(registry.get(&home(), "f").unwrap().code, east.code);
    assert!(registry.get(&west(), "f").is_some());
}

#[tokio::test]
async fn records_written_before_scopes_join_the_default_scope() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    let created = registry.get(&home(), "f").unwrap();
    drop(registry);
    // Rewrite the record under the key layout of earlier releases.
    let stores = StoreConfig::in_data_dir(dir.path())
        .open(dir.path())
        .await
        .unwrap();
    let scoped = collections::key(&home(), "f", LATEST);
    let body = stores
        .documents
        .get(collections::FUNCTIONS, &scoped)
        .await
        .unwrap()
        .unwrap()
        .body;
    stores
        .documents
        .delete(collections::FUNCTIONS, &scoped, Precondition::None)
        .await
        .unwrap();
    stores
        .documents
        .put(
            collections::FUNCTIONS,
            "f/$LATEST",
            body,
            Precondition::None,
        )
        .await
        .unwrap();
    drop(stores);

    let registry = open(dir.path()).await;
    assert_eq!(
        registry.get(&home(), "f").unwrap().revision_id,
        created.revision_id
    );
    registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap();
    settle(&registry).await;
    drop(registry);
    let registry = open(dir.path()).await;
    assert_eq!(registry.list(&home()).len(), 1, "one record, not two");
}

#[tokio::test]
async fn listeners_hear_which_revisions_retired() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let heard = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = heard.clone();
    registry.on_change(move |change| {
        sink.lock().push((change.retired.to_vec(), change.exists));
    });
    let first = registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    let version = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap();
    settle(&registry).await;
    let second = registry.get(&home(), "f").unwrap();
    registry.delete(&f(None)).await.unwrap();
    let heard = heard.lock();
    assert!(heard.contains(&(vec![first.revision_id.clone()], true)));
    let (retired, exists) = heard.last().unwrap();
    assert!(!exists);
    // Settling issued a new revision but kept the environments' one.
    assert_ne!(second.environment_revision(), second.revision_id);
    assert!(
        retired.iter().any(|r| r == second.environment_revision())
            && retired.contains(&version.revision_id)
    );
}

#[tokio::test]
async fn policies_are_kept_per_qualifier_reloaded_and_deleted_with_their_function() {
    use crate::control::permissions::Permission;
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    let grant = |sid: &str, principal: &str| Permission {
        statement_id: sid.into(),
        action: "lambda:InvokeFunction".into(),
        principal: principal.into(),
        source_arn: Some("arn:aws:s3:::bucket".into()),
        ..Permission::default()
    };
    registry
        .add_permission(&f(None), &grant("s3", "s3.amazonaws.com"))
        .await
        .unwrap();
    assert!(matches!(
        registry.add_permission(&f(None), &grant("s3", "*")).await,
        Err(ControlError::Conflict(_))
    ));
    assert!(matches!(
        registry
            .add_permission(&f(Some("$LATEST")), &grant("x", "*"))
            .await,
        Err(ControlError::InvalidParameter(_))
    ));
    assert!(matches!(
        registry
            .add_permission(&f(Some("1")), &grant("x", "*"))
            .await,
        Err(ControlError::NotFound(_))
    ));
    // `$LATEST` shares the function's policy.
    assert!(registry.policy(&f(Some("$LATEST"))).is_some());

    let allowed = registry.service_may_invoke(
        &f(None),
        "s3.amazonaws.com",
        "arn:aws:s3:::bucket",
        "000000000000",
    );
    assert!(allowed.is_ok());
    assert!(registry
        .service_may_invoke(
            &f(Some("$LATEST")),
            "s3.amazonaws.com",
            "arn:aws:s3:::bucket",
            "000000000000"
        )
        .is_ok());
    let other_bucket = registry.service_may_invoke(
        &f(None),
        "s3.amazonaws.com",
        "arn:aws:s3:::other",
        "000000000000",
    );
    assert!(other_bucket.is_err());
    assert!(registry
        .service_may_invoke(
            &f(None),
            "sns.amazonaws.com",
            "arn:aws:s3:::bucket",
            "000000000000"
        )
        .is_err());

    let revision = registry.policy(&f(None)).unwrap().revision_id().to_owned();
    drop(registry);
    let registry = open(dir.path()).await;
    let reloaded = registry.policy(&f(None)).unwrap();
    assert_eq!(reloaded.revision_id(), revision);
    assert!(reloaded.document().contains("\"Sid\":\"s3\""));

    assert!(matches!(
        registry
            .remove_permission(&f(None), "s3", Some("stale"))
            .await,
        Err(ControlError::PreconditionFailed(_))
    ));
    registry
        .remove_permission(&f(None), "s3", Some(&revision))
        .await
        .unwrap();
    assert!(registry.policy(&f(None)).is_none());
    assert!(matches!(
        registry.remove_permission(&f(None), "s3", None).await,
        Err(ControlError::NotFound(_))
    ));

    registry
        .add_permission(&f(None), &grant("again", "*"))
        .await
        .unwrap();
    registry.delete(&f(None)).await.unwrap();
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    assert!(registry.policy(&f(None)).is_none());
    drop(registry);
    assert!(open(dir.path()).await.policy(&f(None)).is_none());
}

#[tokio::test]
async fn changes_settle_with_a_new_revision_and_refuse_what_aws_refuses() {
    use crate::control::records::Lifecycle;
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry.set_settle_delay(std::time::Duration::from_millis(200));
    let created = registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    assert_eq!(created.lifecycle, Lifecycle::Creating);
    let pending = registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&pending, ControlError::Conflict(m) if m.ends_with("in the following state: Pending")),
        "{pending:?}"
    );
    settle(&registry).await;
    let active = registry.get(&home(), "f").unwrap();
    assert_eq!(active.lifecycle, Lifecycle::Ready);
    assert_ne!(active.revision_id, created.revision_id);
    // Environments keep the revision of the change itself.
    assert_eq!(active.environment_revision(), created.revision_id);

    let updated = registry
        .update_code(&f(None), zip("v2"), None)
        .await
        .unwrap();
    assert_eq!(updated.lifecycle, Lifecycle::Updating);
    let in_progress = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&in_progress, ControlError::Conflict(m) if m.contains("An update is in progress for resource: arn:aws:lambda:")),
        "{in_progress:?}"
    );
    settle(&registry).await;
    let settled = registry.get(&home(), "f").unwrap();
    assert_eq!(settled.lifecycle, Lifecycle::Ready);
    assert_eq!(settled.environment_revision(), updated.revision_id);
    let version = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(version.lifecycle, Lifecycle::Ready);
    // Publishing the unchanged head again publishes nothing new.
    let again = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    assert_eq!(again.version, version.version);
}

#[tokio::test]
async fn deleting_a_missing_version_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    registry
        .create(&home(), spec("f"), zip("v1"))
        .await
        .unwrap();
    settle(&registry).await;
    registry.delete(&f(Some("7"))).await.unwrap();
    assert!(registry.get(&home(), "f").is_some());
}
