//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
//! tagging and CORS configuration.

use http::StatusCode;
use nubo_objects::records::CorsRule;
use nubo_objects::BucketName;
use nubo_wire::xml::XmlWriter;

use super::errors::S3Errors;
use super::{empty, iso, set_header, tags, xml, S3Request, S3Result, NAMESPACE};

/// The region buckets are in when their creation names none.
const DEFAULT_REGION: &str = "us-east-1";

pub(crate) async fn list(request: S3Request) -> S3Result {
    let buckets = request.state.objects.buckets();
    let owner = request.scope().account_id;
    Ok(xml("ListAllMyBucketsResult", |w| {
        w.element("Buckets", |w| {
            for bucket in &buckets {
                w.element("Bucket", |w| {
                    w.text_element("Name", &bucket.name)
                        .text_element("CreationDate", &iso(bucket.created_ms))
                        .text_element("BucketRegion", &bucket.region);
                });
            }
        });
        w.element("Owner", |w| {
            w.text_element("DisplayName", &owner)
                .text_element("ID", &owner);
        });
    }))
}

pub(crate) async fn create(request: S3Request) -> S3Result {
    let name = BucketName::parse(request.bucket())?;
    let scope = request.scope();
    let (request, body) = request.xml_body().await?;
    let constraint = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
        document
            .child_text("LocationConstraint")
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
    };
    let region = match constraint.as_deref() {
        Some(DEFAULT_REGION) if scope.region == DEFAULT_REGION => {
            return Err(S3Errors::invalid_location_constraint(
                "The specified location-constraint is not valid",
            )
            .with_extra("LocationConstraint", DEFAULT_REGION)
            .into())
        }
        Some(constraint) if constraint != scope.region => {
            return Err(S3Errors::illegal_location_constraint(format!(
                "The {constraint} location constraint is incompatible for the region specific endpoint this request was sent to."
            ))
            .into())
        }
        Some(constraint) => constraint.to_owned(),
        None if scope.region != DEFAULT_REGION => {
            return Err(S3Errors::illegal_location_constraint(
                "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
            )
            .into())
        }
        None => DEFAULT_REGION.to_owned(),
    };
    request
        .state
        .objects
        .create_bucket(&name, &region, &scope.account_id)
        .await?;
    let mut response = empty(StatusCode::OK);
    set_header(&mut response, "location", &format!("/{name}"));
    Ok(response)
}

pub(crate) async fn head(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let mut response = empty(StatusCode::OK);
    set_header(&mut response, "x-amz-bucket-region", &bucket.region);
    Ok(response)
}

pub(crate) async fn delete(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .delete_bucket(request.bucket())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn location(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    // us-east-1 is the empty constraint, as S3 has always answered.
    let region = if bucket.region == DEFAULT_REGION {
        ""
    } else {
        bucket.region.as_str()
    };
    let mut text = String::new();
    nubo_wire::xml::escape_into(&mut text, region);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{NAMESPACE}\">{text}</LocationConstraint>"
    );
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    set_header(&mut response, "content-type", "application/xml");
    Ok(response)
}

pub(crate) async fn get_tagging(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    if bucket.tags.is_empty() {
        return Err(S3Errors::no_such_tag_set("The TagSet does not exist")
            .with_extra("BucketName", bucket.name.clone())
            .into());
    }
    Ok(xml("Tagging", |w| tags::write(w, &bucket.tags)))
}

pub(crate) async fn put_tagging(request: S3Request) -> S3Result {
    request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    let tags = tags::parse(&body, tags::MAX_BUCKET_TAGS)?;
    request
        .state
        .objects
        .set_bucket_tags(request.bucket(), tags)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn delete_tagging(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .set_bucket_tags(request.bucket(), Vec::new())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_cors(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let Some(rules) = bucket.cors.clone() else {
        return Err(
            S3Errors::no_such_cors_configuration("The CORS configuration does not exist")
                .with_extra("BucketName", bucket.name.clone())
                .into(),
        );
    };
    Ok(xml("CORSConfiguration", |w| {
        for rule in &rules {
            write_cors_rule(w, rule);
        }
    }))
}

fn write_cors_rule(w: &mut XmlWriter, rule: &CorsRule) {
    w.element("CORSRule", |w| {
        w.optional_element("ID", rule.id.as_deref());
        for header in &rule.allowed_headers {
            w.text_element("AllowedHeader", header);
        }
        for method in &rule.allowed_methods {
            w.text_element("AllowedMethod", method);
        }
        for origin in &rule.allowed_origins {
            w.text_element("AllowedOrigin", origin);
        }
        for header in &rule.expose_headers {
            w.text_element("ExposeHeader", header);
        }
        if let Some(age) = rule.max_age_seconds {
            w.text_element("MaxAgeSeconds", &age.to_string());
        }
    });
}

const CORS_METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];

pub(crate) async fn put_cors(request: S3Request) -> S3Result {
    request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
    let texts = |rule: &nubo_wire::xml::XmlElement, name: &str| -> Vec<String> {
        rule.children_named(name)
            .map(|e| e.text.trim().to_owned())
            .collect()
    };
    let mut rules = Vec::new();
    for rule in document.children_named("CORSRule") {
        let parsed = CorsRule {
            id: rule.child_text("ID").map(str::to_owned),
            allowed_headers: texts(rule, "AllowedHeader"),
            allowed_methods: texts(rule, "AllowedMethod"),
            allowed_origins: texts(rule, "AllowedOrigin"),
            expose_headers: texts(rule, "ExposeHeader"),
            max_age_seconds: rule
                .child_text("MaxAgeSeconds")
                .map(|v| {
                    v.parse()
                        .map_err(|_| S3Errors::malformed_xml("MaxAgeSeconds is not a number"))
                })
                .transpose()?,
        };
        if parsed.allowed_methods.is_empty() || parsed.allowed_origins.is_empty() {
            return Err(S3Errors::malformed_xml(
                "The XML you provided was not well-formed or did not validate against our published schema",
            ).into());
        }
        if let Some(bad) = parsed
            .allowed_methods
            .iter()
            .find(|m| !CORS_METHODS.contains(&m.as_str()))
        {
            return Err(S3Errors::invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {bad}"
            ))
            .into());
        }
        rules.push(parsed);
    }
    if document.name != "CORSConfiguration" || rules.is_empty() {
        return Err(S3Errors::malformed_xml(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ).into());
    }
    request
        .state
        .objects
        .set_bucket_cors(request.bucket(), Some(rules))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub(crate) async fn delete_cors(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .set_bucket_cors(request.bucket(), None)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn get_policy(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let Some(policy) = bucket.policy.clone() else {
        return Err(
            S3Errors::no_such_bucket_policy("The bucket policy does not exist")
                .with_extra("BucketName", bucket.name.clone())
                .into(),
        );
    };
    let mut response = axum::response::Response::new(axum::body::Body::from(policy));
    set_header(&mut response, "content-type", "application/json");
    Ok(response)
}

pub(crate) async fn put_policy(request: S3Request) -> S3Result {
    request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| S3Errors::malformed_policy("Policies must be valid JSON"))?;
    nubo_identity::policy::parse_resource_policy(&text)
        .map_err(|e| S3Errors::malformed_policy(e.message))?;
    request
        .state
        .objects
        .set_bucket_policy(request.bucket(), Some(text))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(crate) async fn delete_policy(request: S3Request) -> S3Result {
    request
        .state
        .objects
        .set_bucket_policy(request.bucket(), None)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
