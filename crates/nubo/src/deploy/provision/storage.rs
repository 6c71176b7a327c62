//! Buckets, queues, rules and log groups.

use serde_json::{json, Map, Value};

use nubo_stacks::{Deployed, Physical};

use super::{attributes, only, tags_of, text, ApiProvisioner, Failure, Result};

pub(super) fn list(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `NotificationConfiguration` (CloudFormation's shape) → S3's XML.
fn notification_xml(config: Option<&Value>) -> Result<String> {
    let mut xml = String::from(
        r#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    );
    let Some(config) = config else {
        xml.push_str("</NotificationConfiguration>");
        return Ok(xml);
    };
    for (section, element, target_key, target_element) in [
        (
            "LambdaConfigurations",
            "CloudFunctionConfiguration",
            "Function",
            "CloudFunction",
        ),
        (
            "QueueConfigurations",
            "QueueConfiguration",
            "Queue",
            "Queue",
        ),
    ] {
        for (i, c) in list(config.get(section)).iter().enumerate() {
            let target = c.get(target_key).and_then(text).ok_or_else(|| {
                Failure::local(format!(
                    "NotificationConfiguration.{section}: {target_key} is required"
                ))
            })?;
            let event = c.get("Event").and_then(text).ok_or_else(|| {
                Failure::local(format!(
                    "NotificationConfiguration.{section}: Event is required"
                ))
            })?;
            xml.push_str(&format!("<{element}><Id>{section}{i}</Id><{target_element}>{}</{target_element}><Event>{}</Event>", xml_escape(&target), xml_escape(&event)));
            let rules = list(
                c.get("Filter")
                    .and_then(|f| f.get("S3Key"))
                    .and_then(|k| k.get("Rules")),
            );
            if !rules.is_empty() {
                xml.push_str("<Filter><S3Key>");
                for r in rules {
                    let name = r.get("Name").and_then(text).unwrap_or_default();
                    let value = r.get("Value").and_then(text).unwrap_or_default();
                    xml.push_str(&format!(
                        "<FilterRule><Name>{}</Name><Value>{}</Value></FilterRule>",
                        xml_escape(&name),
                        xml_escape(&value)
                    ));
                }
                xml.push_str("</S3Key></Filter>");
            }
            xml.push_str(&format!("</{element}>"));
        }
    }
    if config.get("TopicConfigurations").is_some()
        || config.get("EventBridgeConfiguration").is_some()
    {
        return Err(Failure::local("NotificationConfiguration: only LambdaConfigurations and QueueConfigurations are served"));
    }
    xml.push_str("</NotificationConfiguration>");
    Ok(xml)
}

impl ApiProvisioner<'_> {
    pub(super) async fn bucket_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::S3::Bucket",
            p,
            &[
                "BucketName",
                "NotificationConfiguration",
                "Tags",
                "CorsConfiguration",
            ],
        )?;
        let name = p
            .get("BucketName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 63, true));
        self.raw(http::Method::PUT, &format!("/{name}"), &[], Vec::new())
            .await?;
        if let Err(e) = self.bucket_configure(&name, p, false).await {
            let _ = self
                .raw(http::Method::DELETE, &format!("/{name}"), &[], Vec::new())
                .await;
            return Err(e);
        }
        let arn = format!("arn:aws:s3:::{name}");
        Ok(Physical {
            id: name.clone(),
            attributes: attributes(&[
                ("Arn", Value::String(arn)),
                (
                    "DomainName",
                    Value::String(format!("{name}.s3.amazonaws.com")),
                ),
                (
                    "RegionalDomainName",
                    Value::String(format!("{name}.s3.{}.amazonaws.com", self.region)),
                ),
                (
                    "WebsiteURL",
                    Value::String(format!(
                        "http://{name}.s3-website-{}.amazonaws.com",
                        self.region
                    )),
                ),
            ]),
        })
    }

    pub(super) async fn bucket_configure(&self, name: &str, p: &Value, update: bool) -> Result<()> {
        only(
            "AWS::S3::Bucket",
            p,
            &[
                "BucketName",
                "NotificationConfiguration",
                "Tags",
                "CorsConfiguration",
            ],
        )?;
        if p.get("NotificationConfiguration").is_some() || update {
            let xml = notification_xml(p.get("NotificationConfiguration"))?;
            self.raw(
                http::Method::PUT,
                &format!("/{name}"),
                &[("notification", "")],
                xml.into_bytes(),
            )
            .await?;
        }
        let tags = tags_of(p.get("Tags"));
        if !tags.is_empty() {
            let mut xml = String::from("<Tagging><TagSet>");
            for (k, v) in tags {
                xml.push_str(&format!(
                    "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                    xml_escape(&k),
                    xml_escape(&v)
                ));
            }
            xml.push_str("</TagSet></Tagging>");
            self.raw(
                http::Method::PUT,
                &format!("/{name}"),
                &[("tagging", "")],
                xml.into_bytes(),
            )
            .await?;
        }
        if let Some(rules) = p
            .get("CorsConfiguration")
            .and_then(|c| c.get("CorsRules"))
            .and_then(Value::as_array)
        {
            let mut xml = String::from("<CORSConfiguration>");
            for r in rules {
                xml.push_str("<CORSRule>");
                for (key, element) in [
                    ("AllowedOrigins", "AllowedOrigin"),
                    ("AllowedMethods", "AllowedMethod"),
                    ("AllowedHeaders", "AllowedHeader"),
                    ("ExposedHeaders", "ExposeHeader"),
                ] {
                    for v in list(r.get(key)) {
                        xml.push_str(&format!(
                            "<{element}>{}</{element}>",
                            xml_escape(&text(&v).unwrap_or_default())
                        ));
                    }
                }
                if let Some(age) = r.get("MaxAge").and_then(text) {
                    xml.push_str(&format!("<MaxAgeSeconds>{age}</MaxAgeSeconds>"));
                }
                xml.push_str("</CORSRule>");
            }
            xml.push_str("</CORSConfiguration>");
            self.raw(
                http::Method::PUT,
                &format!("/{name}"),
                &[("cors", "")],
                xml.into_bytes(),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn bucket_delete(&self, old: &Deployed) -> Result<()> {
        match self.raw(http::Method::DELETE, &format!("/{}", old.physical_id), &[], Vec::new()).await {
            Err(e) if e.code == "BucketNotEmpty" => Err(Failure::local(format!(
                "bucket {} is not empty; as CloudFormation does, Nubo does not delete objects: empty it and delete again",
                old.physical_id
            ))),
            other => other.map(drop),
        }
    }

    fn queue_attributes(p: &Value) -> Result<Map<String, Value>> {
        only(
            "AWS::SQS::Queue",
            p,
            &[
                "QueueName",
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "MaximumMessageSize",
                "ReceiveMessageWaitTimeSeconds",
                "RedrivePolicy",
                "RedriveAllowPolicy",
                "FifoQueue",
                "ContentBasedDeduplication",
                "DeduplicationScope",
                "FifoThroughputLimit",
                "Tags",
                "SqsManagedSseEnabled",
                "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds",
            ],
        )?;
        let mut a = Map::new();
        for (key, v) in p.as_object().into_iter().flatten() {
            match key.as_str() {
                "QueueName"
                | "Tags"
                | "SqsManagedSseEnabled"
                | "KmsMasterKeyId"
                | "KmsDataKeyReusePeriodSeconds" => {}
                "RedrivePolicy" | "RedriveAllowPolicy" => {
                    a.insert(
                        key.clone(),
                        Value::String(if v.is_string() {
                            text(v).unwrap_or_default()
                        } else {
                            v.to_string()
                        }),
                    );
                }
                _ => {
                    a.insert(key.clone(), Value::String(text(v).unwrap_or_default()));
                }
            }
        }
        Ok(a)
    }

    pub(super) async fn queue_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        let fifo = p.get("FifoQueue").and_then(text).as_deref() == Some("true");
        let name = match p.get("QueueName").and_then(text) {
            Some(n) => n,
            None if fifo => format!("{}.fifo", self.generated_name(logical, 75, false)),
            None => self.generated_name(logical, 80, false),
        };
        let mut body = json!({"QueueName": name, "Attributes": Self::queue_attributes(p)?});
        let tags = tags_of(p.get("Tags"));
        if !tags.is_empty() {
            body["tags"] = Value::Object(
                tags.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            );
        }
        let created = self
            .target("sqs", "AmazonSQS", "1.0", "CreateQueue", &body)
            .await?;
        let url = created["QueueUrl"].as_str().unwrap_or_default().to_owned();
        let arn = format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account);
        Ok(Physical {
            id: url.clone(),
            attributes: attributes(&[
                ("Arn", Value::String(arn)),
                ("QueueName", Value::String(name)),
                ("QueueUrl", Value::String(url)),
            ]),
        })
    }

    pub(super) async fn queue_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        let mut attrs = Self::queue_attributes(p)?;
        // Attributes the template dropped go back to SQS's defaults.
        for (key, default) in [
            ("VisibilityTimeout", "30"),
            ("MessageRetentionPeriod", "345600"),
            ("DelaySeconds", "0"),
            ("MaximumMessageSize", "262144"),
            ("ReceiveMessageWaitTimeSeconds", "0"),
            ("RedrivePolicy", ""),
        ] {
            if old.properties.get(key).is_some() && p.get(key).is_none() {
                attrs.insert(key.to_owned(), Value::String(default.to_owned()));
            }
        }
        attrs.remove("FifoQueue");
        self.target(
            "sqs",
            "AmazonSQS",
            "1.0",
            "SetQueueAttributes",
            &json!({"QueueUrl": old.physical_id, "Attributes": attrs}),
        )
        .await?;
        Ok(Physical {
            id: old.physical_id.clone(),
            attributes: old.attributes.clone(),
        })
    }

    pub(super) async fn queue_delete(&self, old: &Deployed) -> Result<()> {
        self.target(
            "sqs",
            "AmazonSQS",
            "1.0",
            "DeleteQueue",
            &json!({"QueueUrl": old.physical_id}),
        )
        .await
        .map(drop)
    }

    pub(super) async fn rule_put(
        &self,
        logical: &str,
        p: &Value,
        old: Option<&Deployed>,
    ) -> Result<Physical> {
        only(
            "AWS::Events::Rule",
            p,
            &[
                "Name",
                "ScheduleExpression",
                "EventPattern",
                "State",
                "Description",
                "EventBusName",
                "Targets",
                "RoleArn",
            ],
        )?;
        let name = match old {
            Some(o) => o.physical_id.clone(),
            None => p
                .get("Name")
                .and_then(text)
                .unwrap_or_else(|| self.generated_name(logical, 64, false)),
        };
        let bus = p.get("EventBusName").and_then(text);
        let mut rule =
            json!({"Name": name, "State": p.get("State").cloned().unwrap_or("ENABLED".into())});
        for key in ["ScheduleExpression", "Description", "RoleArn"] {
            if let Some(v) = p.get(key) {
                rule[key] = v.clone();
            }
        }
        if let Some(pattern) = p.get("EventPattern") {
            rule["EventPattern"] = Value::String(if pattern.is_string() {
                text(pattern).unwrap_or_default()
            } else {
                pattern.to_string()
            });
        }
        if let Some(b) = &bus {
            rule["EventBusName"] = b.clone().into();
        }
        let put = self
            .target("events", "AWSEvents", "1.1", "PutRule", &rule)
            .await?;
        let targets = list(p.get("Targets"));
        if let Some(o) = old {
            let keep: Vec<String> = targets
                .iter()
                .filter_map(|t| t.get("Id").and_then(text))
                .collect();
            let gone: Vec<String> = list(o.properties.get("Targets"))
                .iter()
                .filter_map(|t| t.get("Id").and_then(text))
                .filter(|id| !keep.contains(id))
                .collect();
            if !gone.is_empty() {
                let mut body = json!({"Rule": name, "Ids": gone});
                if let Some(b) = &bus {
                    body["EventBusName"] = b.clone().into();
                }
                self.target("events", "AWSEvents", "1.1", "RemoveTargets", &body)
                    .await?;
            }
        }
        if !targets.is_empty() {
            let targets: Vec<Value> = targets
                .into_iter()
                .map(|mut t| {
                    if let Some(input) = t.get("Input").filter(|i| !i.is_string()).cloned() {
                        t["Input"] = Value::String(input.to_string());
                    }
                    t
                })
                .collect();
            let mut body = json!({"Rule": name, "Targets": targets});
            if let Some(b) = &bus {
                body["EventBusName"] = b.clone().into();
            }
            let answer = self
                .target("events", "AWSEvents", "1.1", "PutTargets", &body)
                .await?;
            if answer["FailedEntryCount"].as_u64().unwrap_or(0) > 0 {
                return Err(Failure::local(format!(
                    "PutTargets: {}",
                    answer["FailedEntries"]
                )));
            }
        }
        let arn = put["RuleArn"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                old.and_then(|o| {
                    o.attributes
                        .get("Arn")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            })
            .unwrap_or_default();
        Ok(Physical {
            id: name,
            attributes: attributes(&[("Arn", Value::String(arn))]),
        })
    }

    pub(super) async fn rule_delete(&self, old: &Deployed) -> Result<()> {
        let bus = old.properties.get("EventBusName").and_then(text);
        let ids: Vec<String> = list(old.properties.get("Targets"))
            .iter()
            .filter_map(|t| t.get("Id").and_then(text))
            .collect();
        if !ids.is_empty() {
            let mut body = json!({"Rule": old.physical_id, "Ids": ids});
            if let Some(b) = &bus {
                body["EventBusName"] = b.clone().into();
            }
            match self
                .target("events", "AWSEvents", "1.1", "RemoveTargets", &body)
                .await
            {
                Err(e) if !e.not_found() => return Err(e),
                _ => {}
            }
        }
        let mut body = json!({"Name": old.physical_id});
        if let Some(b) = &bus {
            body["EventBusName"] = b.clone().into();
        }
        self.target("events", "AWSEvents", "1.1", "DeleteRule", &body)
            .await
            .map(drop)
    }

    pub(super) async fn log_group_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::Logs::LogGroup",
            p,
            &["LogGroupName", "RetentionInDays", "Tags", "LogGroupClass"],
        )?;
        let name = p
            .get("LogGroupName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 512, false));
        self.target(
            "logs",
            "Logs_20140328",
            "1.1",
            "CreateLogGroup",
            &json!({"logGroupName": name}),
        )
        .await?;
        self.log_group_configure(&name, p).await?;
        let arn = format!(
            "arn:aws:logs:{}:{}:log-group:{name}:*",
            self.region, self.account
        );
        Ok(Physical {
            id: name,
            attributes: attributes(&[("Arn", Value::String(arn))]),
        })
    }

    pub(super) async fn log_group_configure(&self, name: &str, p: &Value) -> Result<()> {
        match p.get("RetentionInDays").and_then(super::number) {
            Some(days) => self
                .target(
                    "logs",
                    "Logs_20140328",
                    "1.1",
                    "PutRetentionPolicy",
                    &json!({"logGroupName": name, "retentionInDays": days}),
                )
                .await
                .map(drop),
            None => Ok(()),
        }
    }

    pub(super) async fn log_group_delete(&self, old: &Deployed) -> Result<()> {
        self.target(
            "logs",
            "Logs_20140328",
            "1.1",
            "DeleteLogGroup",
            &json!({"logGroupName": old.physical_id}),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_become_s3_xml() {
        let config = json!({"LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:f", "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".csv"}]}}}]});
        let xml = notification_xml(Some(&config)).unwrap();
        assert!(xml.contains("<CloudFunctionConfiguration><Id>LambdaConfigurations0</Id><CloudFunction>arn:f</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>suffix</Name><Value>.csv</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>"), "{xml}");
    }
}
