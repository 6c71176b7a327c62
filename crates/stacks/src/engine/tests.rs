//! The engine against an in-memory provisioner: ordering, idempotence, rollback, removal.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::*;
use crate::template::{Pseudo, Template};

#[derive(Default)]
struct Memory {
    live: Mutex<BTreeMap<String, Value>>,
    calls: Mutex<Vec<String>>,
    fail_on: Option<&'static str>,
    counter: Mutex<u32>,
}

#[async_trait::async_trait]
impl Provisioner for Memory {
    async fn create(
        &self,
        logical: &str,
        kind: &str,
        properties: &Value,
    ) -> Result<Physical, String> {
        self.calls.lock().unwrap().push(format!("create {logical}"));
        if self.fail_on == Some(logical) {
            return Err("boom".into());
        }
        let mut n = self.counter.lock().unwrap();
        *n += 1;
        let id = format!("{logical}-{n}");
        self.live
            .lock()
            .unwrap()
            .insert(id.clone(), properties.clone());
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), Value::String(format!("arn:{kind}:{id}")));
        Ok(Physical { id, attributes })
    }
    async fn update(
        &self,
        logical: &str,
        kind: &str,
        properties: &Value,
        old: &Deployed,
    ) -> Result<Physical, String> {
        // A changed name cannot be updated in place: replaced.
        if properties.get("QueueName") != old.properties.get("QueueName") {
            return self.create(logical, kind, properties).await;
        }
        self.calls.lock().unwrap().push(format!("update {logical}"));
        if self.fail_on == Some(logical) {
            return Err("boom".into());
        }
        self.live
            .lock()
            .unwrap()
            .insert(old.physical_id.clone(), properties.clone());
        Ok(Physical {
            id: old.physical_id.clone(),
            attributes: old.attributes.clone(),
        })
    }
    async fn delete(&self, logical: &str, old: &Deployed) -> Result<(), String> {
        self.calls.lock().unwrap().push(format!("delete {logical}"));
        self.live.lock().unwrap().remove(&old.physical_id);
        Ok(())
    }
}

fn expand(text: &str) -> Expanded {
    let pseudo = Pseudo {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        stack: "s".into(),
    };
    Template::parse("t.yaml", text)
        .unwrap()
        .expand(&BTreeMap::new(), &pseudo)
        .unwrap()
}

const V1: &str = "
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 30}
  R:
    Type: AWS::Events::Rule
    Properties:
      Targets: [{Arn: !GetAtt Q.Arn, Id: t}]
Outputs:
  Url: {Value: !Ref Q}
";

fn record(resources: BTreeMap<String, Deployed>) -> StackRecord {
    StackRecord {
        name: "s".into(),
        status: "CREATE_COMPLETE".into(),
        updated: String::new(),
        template_file: "t.yaml".into(),
        template: String::new(),
        parameters: BTreeMap::new(),
        resources,
        outputs: BTreeMap::new(),
    }
}

#[tokio::test]
async fn creates_in_order_then_touches_only_what_changed() {
    let p = Memory::default();
    let v1 = expand(V1);
    assert_eq!(order(&v1).unwrap(), vec!["Q", "R"]);
    let (resources, outputs) = deploy(&v1, None, &p, &mut |_| {}).await.unwrap();
    assert_eq!(outputs["Url"].value, json!("Q-1"));
    assert_eq!(
        resources["R"].properties["Targets"][0]["Arn"],
        json!("arn:AWS::SQS::Queue:Q-1")
    );
    let previous = record(resources);

    // Same template: nothing called.
    p.calls.lock().unwrap().clear();
    assert!(plan(&v1, Some(&previous))
        .unwrap()
        .iter()
        .all(|c| c.action == Action::Keep));
    deploy(&v1, Some(&previous), &p, &mut |_| {}).await.unwrap();
    assert!(p.calls.lock().unwrap().is_empty());

    // One property changes: only that resource is updated; a dropped resource is deleted.
    let v2 = expand(&V1.replace("VisibilityTimeout: 30", "VisibilityTimeout: 60").replace("  R:\n    Type: AWS::Events::Rule\n    Properties:\n      Targets: [{Arn: !GetAtt Q.Arn, Id: t}]\n", ""));
    let changes = plan(&v2, Some(&previous)).unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.logical.as_str(), c.action))
            .collect::<Vec<_>>(),
        vec![("Q", Action::Modify), ("R", Action::Remove)]
    );
    deploy(&v2, Some(&previous), &p, &mut |_| {}).await.unwrap();
    assert_eq!(*p.calls.lock().unwrap(), vec!["update Q", "delete R"]);
}

#[tokio::test]
async fn a_failure_rolls_back_to_the_previous_state() {
    let p = Memory::default();
    let (resources, _) = deploy(&expand(V1), None, &p, &mut |_| {}).await.unwrap();
    let previous = record(resources);
    let live_before = p.live.lock().unwrap().clone();

    let failing = Memory {
        fail_on: Some("New"),
        live: Mutex::new(live_before.clone()),
        counter: Mutex::new(10),
        ..Default::default()
    };
    let v2 = expand(&format!(
        "{}  New:\n    Type: AWS::Logs::LogGroup\n    DependsOn: Q\n",
        V1.replace("VisibilityTimeout: 30", "VisibilityTimeout: 99")
            .replace("Outputs:\n  Url: {Value: !Ref Q}\n", "")
    ));
    let err = deploy(&v2, Some(&previous), &failing, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(err.resource.as_deref(), Some("New"));
    assert!(err.rolled_back, "{err}");
    assert!(err.to_string().contains("rolled back"));
    assert_eq!(
        *failing.live.lock().unwrap(),
        live_before,
        "the queue's old settings are back"
    );
    assert_eq!(
        *failing.calls.lock().unwrap(),
        vec!["update Q", "create New", "update Q"]
    );
}

#[tokio::test]
async fn destroy_goes_in_reverse_order() {
    let p = Memory::default();
    let (resources, _) = deploy(&expand(V1), None, &p, &mut |_| {}).await.unwrap();
    p.calls.lock().unwrap().clear();
    assert!(destroy(&record(resources), &p, &mut |_| {})
        .await
        .is_empty());
    assert_eq!(*p.calls.lock().unwrap(), vec!["delete R", "delete Q"]);
    assert!(p.live.lock().unwrap().is_empty());
}

#[test]
fn cycles_and_unknown_types_are_refused() {
    let pseudo = Pseudo {
        region: "r".into(),
        account: "a".into(),
        stack: "s".into(),
    };
    let cyc = "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    DependsOn: B\n  B:\n    Type: AWS::SQS::Queue\n    DependsOn: A\n";
    let e = order(
        &Template::parse("t.yaml", cyc)
            .unwrap()
            .expand(&BTreeMap::new(), &pseudo)
            .unwrap(),
    )
    .unwrap_err();
    assert!(e.message.contains("circular"), "{e}");
    let unknown =
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Table:\n    Type: AWS::Kinesis::Stream\n";
    let e = Template::parse("template.yaml", unknown)
        .unwrap()
        .expand(&BTreeMap::new(), &pseudo)
        .unwrap_err();
    assert_eq!(e.to_string(), "template.yaml:4: resource Table: type AWS::Kinesis::Stream is not a resource type Nubo serves");
}

#[tokio::test]
async fn a_replacement_deletes_the_old_resource_after_success() {
    let p = Memory::default();
    let (resources, _) = deploy(&expand(V1), None, &p, &mut |_| {}).await.unwrap();
    let old_queue = resources["Q"].physical_id.clone();
    let previous = record(resources);
    p.calls.lock().unwrap().clear();
    let v2 = expand(&V1.replace(
        "Properties: {VisibilityTimeout: 30}",
        "Properties: {VisibilityTimeout: 30, QueueName: named}",
    ));
    let (resources, outputs) = deploy(&v2, Some(&previous), &p, &mut |_| {}).await.unwrap();
    assert_ne!(resources["Q"].physical_id, old_queue);
    assert_eq!(outputs["Url"].value, json!(resources["Q"].physical_id));
    // The rule pointing at the queue moved to the new one, then the old queue went.
    assert_eq!(
        *p.calls.lock().unwrap(),
        vec!["create Q", "update R", "delete Q"]
    );
    assert!(!p.live.lock().unwrap().contains_key(&old_queue));
}
