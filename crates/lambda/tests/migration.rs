//! A data dir written by the first store schema: after the store migrates it, the lambda layer
//! finds its functions, versions, aliases, settings and queued events where it looks for them.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use nubo_lambda::control::collections::{self, ASYNC_QUEUE, EVENT_INVOKE_CONFIGS};
use nubo_lambda::control::concurrency::ProvisionedConfig;
use nubo_lambda::control::records::FunctionSpec;
use nubo_lambda::{EventInvokeConfig, QueuedEvent, Registry};
use nubo_store::conformance::{write_version_0_database, Version0, Version0Event};
use nubo_store::{CodeStore, ListQuery, StoreConfig};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AliasName, FunctionName, Qualifier, Scope};

fn f(qualifier: Option<&str>) -> FunctionRef {
    FunctionRef::new(
        Scope::default(),
        FunctionName::new("f").unwrap(),
        qualifier.map(|q| Qualifier::new(q).unwrap()),
    )
}

fn zip() -> Bytes {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("app.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"def handler(e, c): return e\n").unwrap();
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

async fn open(dir: &std::path::Path) -> (std::sync::Arc<Registry>, nubo_store::Stores) {
    let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
    let code = CodeStore::with_blobs(dir, stores.blobs.clone()).unwrap();
    let registry = Registry::load(stores.documents.clone(), code, Scope::default())
        .await
        .unwrap();
    (registry, stores)
}

fn row(a: &str, b: &str, document: impl serde::Serialize) -> (String, String, String) {
    (
        a.into(),
        b.into(),
        serde_json::to_string(&document).unwrap(),
    )
}

#[tokio::test]
async fn a_version_0_data_dir_keeps_functions_aliases_settings_and_events() {
    // Real records, made by today's registry, written as version 0 stored them.
    let scratch = tempfile::tempdir().unwrap();
    let (registry, _) = open(scratch.path()).await;
    let scope = Scope::default();
    registry.create(&scope, spec("f"), zip()).await.unwrap();
    assert!(
        registry
            .wait_settled(&f(None), std::time::Duration::from_secs(5))
            .await
    );
    let v1 = registry
        .publish_version(&f(None), None, None, None)
        .await
        .unwrap();
    let live = AliasName::new("live", "name").unwrap();
    let alias = registry
        .create_alias(&f(None), &live, "1", String::new(), BTreeMap::new())
        .await
        .unwrap();
    let latest = registry.get(&scope, "f").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let settings = EventInvokeConfig {
        maximum_retry_attempts: Some(0),
        ..Default::default()
    };
    write_version_0_database(
        dir.path(),
        &Version0 {
            functions: vec![row("f", "$LATEST", &*latest), row("f", "1", &*v1)],
            aliases: vec![row("f", "live", &*alias)],
            provisioned: vec![row(
                "f",
                "live",
                ProvisionedConfig {
                    requested: 2,
                    last_modified: "2026-01-01T00:00:00.000+0000".into(),
                },
            )],
            event_invoke_configs: vec![row("f", "$LATEST", &settings)],
            events: vec![Version0Event {
                id: "e1".into(),
                function_name: "f".into(),
                qualifier: Some("live".into()),
                payload: b"{\"n\":1}".to_vec(),
                client_context: None,
                received_ms: 100,
                attempts: 1,
                not_before_ms: 300,
            }],
            ..Version0::default()
        },
    );

    let (registry, stores) = open(dir.path()).await;
    let versions: Vec<String> = registry
        .versions_of(&scope, "f")
        .unwrap()
        .iter()
        .map(|v| v.version.clone())
        .collect();
    assert_eq!(versions, ["$LATEST", "1"]);
    assert_eq!(
        registry.get(&scope, "f").unwrap().revision_id,
        latest.revision_id
    );
    assert_eq!(registry.resolve(&f(Some("live"))).unwrap().version, "1");
    let provisioned = stores
        .documents
        .list(collections::PROVISIONED, ListQuery::all())
        .await
        .unwrap();
    assert_eq!(provisioned.len(), 1);
    assert_eq!(provisioned[0].key, collections::key(&scope, "f", "live"));
    let stored: ProvisionedConfig = serde_json::from_str(&provisioned[0].body).unwrap();
    assert_eq!(stored.requested, 2);
    assert_eq!(
        registry
            .event_invoke_config(&f(None))
            .map(|c| c.maximum_retry_attempts),
        Some(Some(0))
    );

    let configs = stores
        .documents
        .list(EVENT_INVOKE_CONFIGS, ListQuery::all())
        .await
        .unwrap();
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].key, collections::key(&scope, "f", "$LATEST"));
    let stored: EventInvokeConfig = serde_json::from_str(&configs[0].body).unwrap();
    assert_eq!(stored, settings);

    let queued: Vec<QueuedEvent> = stores
        .queues
        .messages(ASYNC_QUEUE)
        .await
        .unwrap()
        .into_iter()
        .map(|m| QueuedEvent::from_message(m, &scope).unwrap())
        .collect();
    assert_eq!(
        queued,
        [QueuedEvent {
            id: "e1".into(),
            function: f(Some("live")),
            payload: b"{\"n\":1}".to_vec(),
            client_context: None,
            received_ms: 100,
            attempts: 1,
            not_before_ms: 300,
            lineage: 0,
        }]
    );

    // Deleting the function removes every record of it in one commit, as before.
    registry.delete(&f(None)).await.unwrap();
    drop(registry);
    let (registry, stores) = open(dir.path()).await;
    assert!(registry.get(&scope, "f").is_none());
    assert!(registry.event_invoke_config(&f(None)).is_none());
    for collection in [
        collections::FUNCTIONS,
        collections::ALIASES,
        collections::PROVISIONED,
        EVENT_INVOKE_CONFIGS,
    ] {
        let left = stores
            .documents
            .list(collection, ListQuery::all())
            .await
            .unwrap();
        assert!(left.is_empty(), "{collection}: {left:?}");
    }
}
