//! XML as AWS's query and rest-xml protocols use it: a writer for replies and a reader for
//! request bodies (S3's `CreateBucketConfiguration`, `Delete`, `Tagging`, …).
//!
//! The writer is our own: replies only need elements, text and one `xmlns`, and owning it keeps the
//! output byte-exact for golden files and free of a serializer's opinions about lists. Nesting goes
//! through closures, so tags always balance. Text is escaped for XML 1.0, including the characters
//! XML 1.0 cannot carry at all (see [`escape_into`]).
//!
//! The reader wraps `quick-xml` (maintained, no unsafe in our code, streaming): parsing client XML
//! correctly — entities, CDATA, comments, mismatched tags — is where a hand-written parser goes
//! wrong, and S3 bodies are client input. It builds a small [`XmlElement`] tree with a depth limit
//! and refuses DTDs, so no document can expand entities or nest without bound.

use std::fmt;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// The XML declaration AWS puts before rest-xml bodies.
pub const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// An XML document or fragment being written.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// An empty fragment.
    pub fn new() -> Self {
        Self::default()
    }

    /// A document that starts with [`DECLARATION`].
    pub fn document() -> Self {
        Self {
            out: DECLARATION.to_owned(),
        }
    }

    /// `<name>text</name>`, with `text` escaped.
    pub fn text_element(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name, None);
        escape_into(&mut self.out, text);
        self.close(name);
        self
    }

    /// `<name>text</name>` when `text` is present; nothing otherwise (AWS omits absent members).
    pub fn optional_element(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.text_element(name, text);
        }
        self
    }

    /// `<name>…</name>` with the children `body` writes.
    pub fn element(&mut self, name: &str, body: impl FnOnce(&mut Self)) -> &mut Self {
        self.open(name, None);
        body(self);
        self.close(name);
        self
    }

    /// `<name xmlns="namespace">…</name>`: the root of a reply (no `xmlns` when `namespace` is
    /// empty, as for a service whose namespace is unknown).
    pub fn element_ns(
        &mut self,
        name: &str,
        namespace: &str,
        body: impl FnOnce(&mut Self),
    ) -> &mut Self {
        self.open(name, Some(namespace));
        body(self);
        self.close(name);
        self
    }

    /// Appends another writer's output (balanced by construction, so this stays well formed).
    pub fn append(&mut self, other: XmlWriter) -> &mut Self {
        self.out.push_str(&other.out);
        self
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished text.
    pub fn into_string(self) -> String {
        self.out
    }

    fn open(&mut self, name: &str, namespace: Option<&str>) {
        debug_assert!(is_name(name), "not an XML element name: {name:?}");
        self.out.push('<');
        self.out.push_str(name);
        if let Some(namespace) = namespace.filter(|ns| !ns.is_empty()) {
            self.out.push_str(" xmlns=\"");
            escape_into(&mut self.out, namespace);
            self.out.push('"');
        }
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
}

/// Element names come from code (shape member names), never from requests; this only guards
/// against typos in debug builds.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// Escapes `text` for element content and attribute values.
///
/// Besides `& < > " '`, a carriage return is written as `&#xD;` because XML parsers turn a literal
/// one into `\n`, and characters XML 1.0 forbids even as references (C0 controls other than tab
/// and newline, U+FFFE, U+FFFF) become U+FFFD: a parser (botocore's among them) rejects the whole
/// document otherwise, which would turn one odd byte in, say, an object key into an unreadable reply.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// What a reply writes inside its result element (query) or root element (rest-xml).
pub trait XmlOutput {
    /// Writes the members, in the order the service model lists them.
    fn write_xml(&self, w: &mut XmlWriter);
}

/// No output members: the reply carries only its metadata.
impl XmlOutput for () {
    fn write_xml(&self, _: &mut XmlWriter) {}
}

/// A closure is an output, so a handler can answer `Ok(move |w: &mut XmlWriter| …)`.
impl<F: Fn(&mut XmlWriter)> XmlOutput for F {
    fn write_xml(&self, w: &mut XmlWriter) {
        self(w)
    }
}

/// How deep a request document may nest. S3's deepest request body is four levels.
pub const MAX_DEPTH: usize = 32;

/// One element of a parsed document: its local name (any namespace prefix dropped), attributes,
/// child elements in order, and the text directly inside it (CDATA included, entities resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlElement {
    /// Local name, e.g. `LocationConstraint`.
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attributes: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<XmlElement>,
    /// The element's own text, concatenated; whitespace kept as sent.
    pub text: String,
}

/// Why a request document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

fn malformed(what: impl fmt::Display) -> XmlError {
    XmlError(what.to_string())
}

impl XmlElement {
    /// Parses a whole UTF-8 document into its root element.
    pub fn parse(document: &[u8]) -> Result<Self, XmlError> {
        let text =
            std::str::from_utf8(document).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<XmlElement> = Vec::new();
        let mut root: Option<XmlElement> = None;
        loop {
            let event = reader.read_event().map_err(malformed)?;
            match event {
                Event::Start(_) | Event::Empty(_) if root.is_some() => {
                    return Err(malformed("more than one root element"));
                }
                Event::Start(start) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(malformed(format!(
                            "nested deeper than {MAX_DEPTH} elements"
                        )));
                    }
                    stack.push(Self::open(&start)?);
                }
                Event::Empty(start) => {
                    let element = Self::open(&start)?;
                    Self::attach(element, &mut stack, &mut root);
                }
                Event::End(_) => {
                    let element = stack.pop().ok_or_else(|| malformed("unmatched end tag"))?;
                    Self::attach(element, &mut stack, &mut root);
                }
                Event::Text(text) => {
                    let content = text.xml10_content().map_err(malformed)?;
                    match stack.last_mut() {
                        Some(element) => element.text.push_str(&content),
                        None if content.trim().is_empty() => {}
                        None => return Err(malformed("text outside the root element")),
                    }
                }
                Event::CData(data) => {
                    let content = data.decode().map_err(malformed)?;
                    let element = stack
                        .last_mut()
                        .ok_or_else(|| malformed("CDATA outside the root element"))?;
                    element.text.push_str(&content);
                }
                Event::GeneralRef(reference) => {
                    let element = stack
                        .last_mut()
                        .ok_or_else(|| malformed("a reference outside the root element"))?;
                    if let Some(c) = reference.resolve_char_ref().map_err(malformed)? {
                        element.text.push(c);
                    } else {
                        let name = reference.decode().map_err(malformed)?;
                        let resolved = resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?;
                        element.text.push_str(resolved);
                    }
                }
                Event::DocType(_) => {
                    return Err(malformed("document type declarations are not accepted"))
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return Err(malformed("the document ended inside an element"));
        }
        root.ok_or_else(|| malformed("no root element"))
    }

    fn open(start: &quick_xml::events::BytesStart<'_>) -> Result<Self, XmlError> {
        let name = std::str::from_utf8(start.local_name().into_inner())
            .map_err(malformed)?
            .to_owned();
        let mut attributes = Vec::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(malformed)?;
            let key = std::str::from_utf8(attribute.key.as_ref())
                .map_err(malformed)?
                .to_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(malformed)?
                .into_owned();
            attributes.push((key, value));
        }
        Ok(Self {
            name,
            attributes,
            children: Vec::new(),
            text: String::new(),
        })
    }

    fn attach(element: Self, stack: &mut [Self], root: &mut Option<Self>) {
        match stack.last_mut() {
            Some(parent) => parent.children.push(element),
            None => *root = Some(element),
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in order (a flattened list).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// An attribute's value, by its name as written (e.g. `xmlns`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_nests_and_escapes() {
        let mut w = XmlWriter::document();
        w.element_ns("Root", "http://example.com/doc/", |w| {
            w.text_element("Key", "a<b>&\"c\"'d'");
            w.element("List", |w| {
                w.text_element("member", "1").text_element("member", "2");
            });
            w.optional_element("Absent", None);
            w.optional_element("Present", Some(""));
        });
        assert_eq!(
            w.as_str(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root xmlns=\"http://example.com/doc/\">\
             <Key>a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;</Key>\
             <List><member>1</member><member>2</member></List><Present></Present></Root>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_and_cr_survives() {
        let mut out = String::new();
        escape_into(&mut out, "a\u{1}b\rc\td\ne\u{FFFF}");
        assert_eq!(out, "a\u{FFFD}b&#xD;c\td\ne\u{FFFD}");
    }

    #[test]
    fn written_text_reads_back_unchanged() {
        let original = "tab\tnewline\ncr\r <&>\"' ünïcødé 🚀";
        let mut w = XmlWriter::new();
        w.text_element("Value", original);
        let parsed = XmlElement::parse(w.as_str().as_bytes()).unwrap();
        assert_eq!(parsed.text, original);
    }

    #[test]
    fn reader_builds_a_tree() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a&amp;b</Key><VersionId>v1</VersionId></Object>
  <Object><Key><![CDATA[<raw>]]></Key></Object>
  <Quiet>true</Quiet>
  <s3:Prefixed xmlns:s3="x" attr="1 &lt; 2">&#x41;&#66;</s3:Prefixed>
  <Empty/>
</Delete>"#;
        let root = XmlElement::parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(
            root.attribute("xmlns"),
            Some("http://s3.amazonaws.com/doc/2006-03-01/")
        );
        let keys: Vec<&str> = root
            .children_named("Object")
            .filter_map(|o| o.child_text("Key"))
            .collect();
        assert_eq!(keys, ["a&b", "<raw>"]);
        assert_eq!(root.child_text("Quiet"), Some("true"));
        let prefixed = root.child("Prefixed").unwrap();
        assert_eq!(prefixed.text, "AB");
        assert_eq!(prefixed.attribute("attr"), Some("1 < 2"));
        assert_eq!(root.child("Empty").map(|e| e.text.as_str()), Some(""));
    }

    #[test]
    fn reader_refuses_what_is_not_one_well_formed_element() {
        for (doc, why) in [
            (&b""[..], "empty"),
            (b"<a><b></a>", "mismatched"),
            (b"<a>", "unclosed"),
            (b"<a/><b/>", "two roots"),
            (b"text<a/>", "text before the root"),
            (b"<a>&custom;</a>", "unknown entity"),
            (b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "a DTD"),
            (b"<a>\xff</a>", "not UTF-8"),
        ] {
            assert!(XmlElement::parse(doc).is_err(), "{why} was accepted");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(XmlElement::parse(deep.as_bytes()).is_err());
        let fits = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(XmlElement::parse(fits.as_bytes()).is_ok());
    }
}
