//! Mapping templates for `AWS` integrations: the Velocity subset API Gateway users write, parsed
//! once at deploy ([`parse`]) and rendered per request ([`eval`]).
//!
//! - references: `$input.body`, `$input.json('$…')`, `$input.path('$…')`, `$input.params()` and
//!   `$input.params('name')` (path, query string, then header), `$context.…` (nested:
//!   `$context.authorizer.principalId`, `$context.identity.sourceIp`), `$stageVariables.…`, also
//!   `${…}` and quiet `$!…`; methods on strings, lists and maps (`size()`, `get()`, `keySet()`,
//!   `contains()`, `substring()`, …);
//! - `$util.escapeJavaScript/parseJson/urlEncode/urlDecode/base64Encode/base64Decode/toJson`;
//! - `#set`, `#if/#elseif/#else/#end`, `#foreach` with `$foreach.hasNext/index/count`,
//!   comparisons (`== != < <= > >=`, `eq ne lt le gt ge`), `&& || !` (`and or not`), arithmetic,
//!   list, range and map literals, `##` and `#* *#` comments.
//!
//! Not supported: macros, `#include/#parse/#evaluate`, `#break/#stop`, regular expressions
//! (`replaceAll` and `split` take their argument literally). A template that does not parse is
//! refused when it is put, with its line; one stored before these checks answers 500 at run time.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod eval;
mod parse;

pub use parse::{Access, Expr, Node, Op, Reference};

/// A template that does not parse, or failed to render: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TemplateError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl TemplateError {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template(pub Vec<Node>);

/// What a template can read.
pub struct Inputs<'a> {
    /// The body (request body, or the function's output for a response).
    pub body: &'a [u8],
    /// Path parameters.
    pub path_parameters: &'a [(String, String)],
    /// Raw query string.
    pub query: &'a str,
    /// Headers.
    pub headers: Option<&'a http::HeaderMap>,
    /// Stage variables.
    pub stage_variables: &'a BTreeMap<String, String>,
    /// `$context`: an object (`requestId`, `stage`, `authorizer`, `identity`, …).
    pub context: &'a Value,
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, String)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        (k, v)
    })
}

impl Inputs<'_> {
    /// `$input.params('name')`: a path parameter, else a query string parameter, else a header.
    pub fn param(&self, name: &str) -> Option<String> {
        self.path_parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                query_pairs(self.query)
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v)
            })
            .or_else(|| {
                self.headers
                    .and_then(|h| h.get(name))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
    }

    /// `$input.params()`: `{"path": {...}, "querystring": {...}, "header": {...}}`.
    pub fn all_params(&self) -> Value {
        let path: Map<String, Value> = self
            .path_parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let query: Map<String, Value> = query_pairs(self.query)
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect();
        let header: Map<String, Value> = self
            .headers
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.as_str().to_owned(),
                            Value::String(v.to_str().ok()?.to_owned()),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({"path": path, "querystring": query, "header": header})
    }
}

/// `$`, `$.a.b`, `$['a']`, `$.a[0]` → `["a", "b"]`.
fn json_path(path: &str) -> Vec<String> {
    path.trim_start_matches('$')
        .split(['.', '[', ']'])
        .map(|p| p.trim_matches(['\'', '"']))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Template {
    /// Parses a template.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        parse::Parser::new(source).template().map(Self)
    }

    /// Renders with `inputs`.
    pub fn render(&self, inputs: &Inputs<'_>) -> Result<String, TemplateError> {
        let mut out = String::new();
        eval::Env::new(inputs).render(&self.0, &mut out)?;
        Ok(out)
    }
}

/// A template as a deployment holds it: compiled (or why it is not) and named for its errors,
/// e.g. `request template application/json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// Which template this is.
    pub name: String,
    /// Compiled, or why it does not parse.
    pub template: Result<Template, TemplateError>,
}

impl Named {
    /// Compiles `source` under `name`.
    pub fn new(name: String, source: &str) -> Self {
        Self {
            template: Template::parse(source),
            name,
        }
    }

    /// Renders, or says which template failed and on which line.
    pub fn render(&self, inputs: &Inputs<'_>) -> Result<String, String> {
        self.template
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|t| t.render(inputs))
            .map_err(|e| format!("{} {e}", self.name))
    }
}

/// Checks a template as it is put (PutIntegration, PutIntegrationResponse): the error names the
/// template and the line.
pub fn check(kind: &str, content_type: &str, source: &str) -> Result<(), String> {
    Template::parse(source)
        .map(drop)
        .map_err(|e| format!("Invalid mapping template: {kind} template {content_type}, {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, body: &str) -> String {
        let vars = [("color".to_owned(), "blue".to_owned())]
            .into_iter()
            .collect();
        let mut headers = http::HeaderMap::new();
        headers.insert("x-h", http::HeaderValue::from_static("hv"));
        let context = json!({"stage": "prod", "requestId": "r1",
            "authorizer": {"principalId": "ann", "claims": {"sub": "s1"}},
            "identity": {"sourceIp": "127.0.0.1"}});
        let inputs = Inputs {
            body: body.as_bytes(),
            path_parameters: &[("id".into(), "42".into())],
            query: "q=a%20b&n=3",
            headers: Some(&headers),
            stage_variables: &vars,
            context: &context,
        };
        Template::parse(template).unwrap().render(&inputs).unwrap()
    }

    #[test]
    fn references_render_from_the_request() {
        let out = render(
            r#"{"name": "$input.path('$.user.name')", "raw": $input.json('$.user'), "id": "$input.params('id')", "q": "$input.params('q')", "h": "$input.params('x-h')", "stage": "${context.stage}", "who": "$context.authorizer.principalId", "sub": "$context.authorizer.claims.sub", "ip": "$context.identity.sourceIp", "color": "$stageVariables.color", "cost": "$5", "missing": "$input.path('$.nope')$context.nope"}"#,
            r#"{"user": {"name": "ann", "age": 3}}"#,
        );
        let rendered: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            rendered,
            json!({"name": "ann", "raw": {"name": "ann", "age": 3}, "id": "42",
                "q": "a b", "h": "hv", "stage": "prod", "who": "ann", "sub": "s1",
                "ip": "127.0.0.1", "color": "blue", "cost": "$5", "missing": ""})
        );
        assert_eq!(render("$input.body", "{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(render("$undefined $!quiet", ""), "$undefined ");
    }

    #[test]
    fn directives_set_if_and_foreach() {
        let template = r##"#set($items = $input.path('$.items'))
#set($limit = 2)
{
  "count": $items.size(),
  "names": [
#foreach($item in $items)
    #if($item.qty > $limit && $item.name != "skip")
    "$item.name!"#elseif($item.qty == $limit)"$item.name="#else"$item.name-"#end#if($foreach.hasNext),#end

#end
  ],
  "flag": #if(!$input.path('$.off') and $items.size() ge 3)true#{else}false#end
}"##;
        let body = r#"{"items": [{"name": "a", "qty": 5}, {"name": "b", "qty": 2}, {"name": "c", "qty": 1}]}"#;
        let out = render(template, body);
        let rendered: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(
            rendered,
            json!({"count": 3, "names": ["a!", "b=", "c-"], "flag": true})
        );
        // A directive alone on its line leaves no blank line behind.
        assert_eq!(
            render("a\n  #set($x = 1)\n  #if($x == 1)\nb\n  #end\nc", ""),
            "a\nb\nc"
        );
        assert_eq!(
            render("#foreach($i in [1..3])$i#if($foreach.hasNext),#end#end", ""),
            "1,2,3"
        );
        assert_eq!(
            render(
                "#set($m = {})#set($m.k = 'v')#set($d = $m.put('j', 2))$m.k $m.get('j') $m.size()",
                ""
            ),
            "v 2 2"
        );
        assert_eq!(
            render(
                "#set($s = \"id-$input.params('id')\")$s.length() $s.toUpperCase()",
                ""
            ),
            "5 ID-42"
        );
        assert_eq!(
            render("#set($n = 7 / 2 + 1)$n #if(\"a\" < \"b\")lt#end", ""),
            "4 lt"
        );
    }

    #[test]
    fn util_functions() {
        assert_eq!(
            render(r#"$util.escapeJavaScript("it's \ a/b")"#, ""),
            r"it\'s \\ a\/b"
        );
        assert_eq!(
            render(r#"$util.urlEncode("a b&c=d/é")"#, ""),
            "a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(render(r#"$util.urlDecode("a+b%26c")"#, ""), "a b&c");
        assert_eq!(render(r#"$util.base64Encode("hello")"#, ""), "aGVsbG8=");
        assert_eq!(render(r#"$util.base64Decode("aGVsbG8=")"#, ""), "hello");
        assert_eq!(
            render(
                r#"#set($o = $util.parseJson($input.path('$.inner')))$o.a[1] $o.b.c"#,
                r#"{"inner": "{\"a\": [1, 2], \"b\": {\"c\": \"x\"}}"}"#
            ),
            "2 x"
        );
        assert_eq!(
            render("#foreach($k in $input.params().querystring.keySet())$k=$input.params().querystring.get($k);#end", ""),
            "n=3;q=a b;"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = Template::parse("{\n#if($a)\nx\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "#if without #end"));
        let e = Template::parse("a\nb\n#end").unwrap_err();
        assert_eq!(e.line, 3);
        let e = Template::parse("\n\n#set($x = 'open)").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "unterminated string"));
        let e = Template::parse("#foreach($x $y)#end").unwrap_err();
        assert!(e.message.contains("in"), "{e}");
        let e = Template::parse("x ${input.body").unwrap_err();
        assert_eq!(e.line, 1);
        let context = json!({});
        let inputs = Inputs {
            body: b"{}",
            path_parameters: &[],
            query: "",
            headers: None,
            stage_variables: &BTreeMap::new(),
            context: &context,
        };
        let e = Template::parse("\n$util.parseJson('{')")
            .unwrap()
            .render(&inputs)
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.to_string().split(':').next(), Some("line 2"));
    }
}
