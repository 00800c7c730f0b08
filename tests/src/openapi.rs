//! OpenAPI 3.1 documents as checkers of the running services: [`Spec`] finds the operation
//! and response a real answer belongs to (path template, method, status) and validates its
//! headers and body with `jsonschema`; it validates request bodies the same way, and
//! [`Spec::problems`] says what makes a document itself unusable (a `$ref` that resolves to
//! nothing, a schema that does not compile, an example its schema refuses, ...).
//!
//! The operator API's document (`docs/openapi/operator.json`) and ingest's
//! (`docs/openapi/ingest.json`) are both checked with it.

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One answer of a service, as the checker sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body: JSON when it is sent as JSON (or without a content type), else its text as a
    /// JSON string; `Null` when empty.
    pub body: Value,
}

impl Reply {
    /// Reads a whole answer. Errs (with the text) on a body sent as JSON that is not JSON.
    pub async fn read(response: reqwest::Response) -> Result<Reply, String> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{status}: the body could not be read: {e}"))?;
        Reply::from_parts(status, headers, &bytes)
    }

    /// An answer from its parts (for answers read off a socket). The body is parsed as JSON
    /// when it is sent as JSON or without a content type; else it is kept as text.
    pub fn from_parts(status: u16, headers: HeaderMap, bytes: &[u8]) -> Result<Reply, String> {
        let media = media_type(&headers).unwrap_or_else(|| "application/json".into());
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_json(&media) {
            serde_json::from_slice(bytes).map_err(|e| {
                format!(
                    "{status}: not JSON ({e}): {}",
                    String::from_utf8_lossy(bytes)
                )
            })?
        } else {
            Value::String(String::from_utf8_lossy(bytes).into_owned())
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `field`s of an error answer, sorted.
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.body["error"]["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["field"].as_str().map(str::to_string))
            .collect();
        fields.sort();
        fields
    }
}

/// The essence of a `Content-Type` (`application/json` of `application/json; charset=utf-8`),
/// lowercase.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// An OpenAPI 3.1 document, as a checker of answers and requests.
///
/// For the check of answers, every object schema with `properties` and no
/// `additionalProperties` is made closed: a document lets answers gain keys later (clients
/// must ignore unknown keys), but today's answers must carry only what it describes. Request
/// bodies are checked against the document as written.
///
/// A response header is required unless the document says `"required": false`: the
/// operator document lists only headers that are always sent, without `required`.
pub struct Spec {
    /// The document as written.
    original: Value,
    /// The document, closed as above; answer schemas are checked with it as the root so
    /// their `$ref`s resolve.
    closed: Value,
}

impl Spec {
    /// Reads a document (JSON text). Panics when it is not JSON: the document is the test's
    /// own input.
    pub fn from_document(text: &str) -> Spec {
        let original: Value = serde_json::from_str(text).expect("the document is JSON");
        let mut closed = original.clone();
        if let Some(schemas) = closed.pointer_mut("/components/schemas") {
            for schema in schemas
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                close(schema);
            }
        }
        if let Some(responses) = closed.pointer_mut("/components/responses") {
            close_responses(responses);
        }
        if let Some(paths) = closed.pointer_mut("/paths") {
            for item in paths
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                for operation in item
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    if let Some(responses) = operation.get_mut("responses") {
                        close_responses(responses);
                    }
                }
            }
        }
        Spec { original, closed }
    }

    /// The document as written.
    pub fn document(&self) -> &Value {
        &self.original
    }

    /// The document's path template matching a concrete path (`{x}` matches one segment).
    pub fn template(&self, path: &str) -> Option<String> {
        let paths = self.closed["paths"].as_object()?;
        let segments: Vec<&str> = path.split('/').collect();
        paths
            .keys()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(t, s)| {
                        (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                    })
            })
            .cloned()
    }

    /// The pointer of `method path`'s operation, when the document has one.
    fn operation(&self, method: &Method, path: &str) -> Option<String> {
        let method_key = method.as_str().to_ascii_lowercase();
        self.template(path)
            .map(|t| format!("/paths/{}/{method_key}", escape(&t)))
            .filter(|pointer| self.closed.pointer(pointer).is_some())
    }

    /// Panics unless the document describes `reply` as an answer of `method path`: status
    /// documented for the operation, error code among those its description lists, required
    /// headers present and valid, body of a documented media type and valid against its
    /// schema. A path or method the document does not list must be answered with the error
    /// body (404, 405).
    pub fn check(&self, method: &Method, path: &str, reply: &Reply) {
        let what = format!("{method} {path} → {}", reply.status);
        let Some(operation) = self.operation(method, path) else {
            assert!(
                matches!(reply.status, 404 | 405),
                "{what}: not in the document, yet not 404/405"
            );
            self.validate(&what, "/components/schemas/Error", &reply.body);
            return;
        };
        let pointer = format!("{operation}/responses/{}", reply.status);
        let (pointer, response) = self
            .resolve(&pointer)
            .unwrap_or_else(|| panic!("{what}: status not documented: {}", reply.body));
        let description = response["description"].as_str().unwrap_or_default();
        if let Some(code) = reply.body["error"]["code"].as_str() {
            assert!(
                description.contains(&format!("`{code}`")),
                "{what}: code {code} is not among the documented ones: {description}"
            );
        }
        self.check_headers(&what, &pointer, response, &reply.headers);
        let Some(content) = response["content"].as_object() else {
            assert!(
                reply.body.is_null(),
                "{what}: a body the document does not describe: {}",
                reply.body
            );
            return;
        };
        let media = media_type(&reply.headers).unwrap_or_else(|| "application/json".into());
        let key = content
            .keys()
            .find(|key| essence(key) == media)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: answered as {media}; the document describes {:?}",
                    content.keys().collect::<Vec<_>>()
                )
            });
        if content[key].get("schema").is_some() {
            self.validate(
                &what,
                &format!("{pointer}/content/{}/schema", escape(key)),
                &reply.body,
            );
        }
    }

    /// Every documented header of a response: present unless `"required": false`, and valid
    /// against its schema when present.
    fn check_headers(&self, what: &str, pointer: &str, response: &Value, headers: &HeaderMap) {
        let Some(documented) = response["headers"].as_object() else {
            return;
        };
        for name in documented.keys() {
            let (header_pointer, header) = self
                .resolve(&format!("{pointer}/headers/{}", escape(name)))
                .unwrap_or_else(|| panic!("{what}: header {name}'s $ref resolves to nothing"));
            let required = header["required"].as_bool().unwrap_or(true);
            let Some(value) = headers.get(name.as_str()) else {
                assert!(!required, "{what}: documented header {name} is missing");
                continue;
            };
            let text = value
                .to_str()
                .unwrap_or_else(|_| panic!("{what}: header {name} is not text"));
            if header.get("schema").is_some() {
                let instance = match header["schema"]["type"].as_str() {
                    Some("integer" | "number") => serde_json::from_str::<Value>(text)
                        .ok()
                        .filter(Value::is_number)
                        .unwrap_or_else(|| json!(text)),
                    _ => json!(text),
                };
                self.validate(
                    &format!("{what} (header {name})"),
                    &format!("{header_pointer}/schema"),
                    &instance,
                );
            }
        }
    }

    /// What is wrong with `body` as the request body of `method path` sent as `media_type`
    /// (against the document as written); empty when it conforms.
    pub fn request_problems(
        &self,
        method: &Method,
        path: &str,
        media_type: &str,
        body: &Value,
    ) -> Vec<String> {
        let Some(operation) = self.operation(method, path) else {
            return vec![format!("{method} {path} is not in the document")];
        };
        let Some((pointer, request)) = resolve(&self.original, &format!("{operation}/requestBody"))
        else {
            return vec![format!("{method} {path} takes no body")];
        };
        let wanted = essence(media_type);
        let Some(key) = request["content"]
            .as_object()
            .and_then(|content| content.keys().find(|key| essence(key) == wanted))
        else {
            return vec![format!("{method} {path} takes no {wanted} body")];
        };
        violations(
            &self.original,
            &format!("{pointer}/content/{}/schema", escape(key)),
            body,
        )
        .unwrap_or_else(|e| vec![e])
    }

    /// Follows a `$ref` at `pointer` (one level, as responses and headers use them) in the
    /// closed document.
    fn resolve(&self, pointer: &str) -> Option<(String, &Value)> {
        resolve(&self.closed, pointer)
    }

    /// Validates `instance` against the schema at `pointer` in the (closed) document.
    fn validate(&self, what: &str, pointer: &str, instance: &Value) {
        let found = violations(&self.closed, pointer, instance)
            .unwrap_or_else(|e| panic!("{what}: the document's schema does not compile: {e}"));
        assert!(
            found.is_empty(),
            "{what}: the answer breaks the document ({pointer}):\n{}\n{}",
            found.join("\n"),
            serde_json::to_string_pretty(instance).unwrap_or_default()
        );
    }

    /// What makes the document unusable, as far as this checker can tell; empty when none:
    /// not OpenAPI 3.1; a `$ref` that resolves to nothing; a component schema that is not a
    /// valid JSON Schema (2020-12) or does not compile; a path parameter missing from its
    /// template or the reverse; an operation without responses, a response without a
    /// description, a status that is not one; a duplicate `operationId`; an unknown security
    /// scheme or tag; an example its schema refuses.
    pub fn problems(&self) -> Vec<String> {
        let doc = &self.original;
        let mut problems = Vec::new();
        if !doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1."))
        {
            problems.push(format!("openapi is {}, not 3.1.x", doc["openapi"]));
        }
        for key in ["title", "version"] {
            if doc["info"][key].as_str().is_none_or(str::is_empty) {
                problems.push(format!("info.{key} is missing"));
            }
        }
        unresolved_refs(doc, doc, "", &mut problems);
        for (name, schema) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
                problems.push(format!("schema {name} is not JSON Schema 2020-12: {e}"));
            }
            let pointer = format!("/components/schemas/{}", escape(name));
            if let Err(e) = violations(doc, &pointer, &Value::Null) {
                problems.push(e);
            }
        }
        let schemes = doc["components"]["securitySchemes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, scheme) in &schemes {
            match scheme["type"].as_str() {
                Some("apiKey") => {
                    let located =
                        matches!(scheme["in"].as_str(), Some("query" | "header" | "cookie"));
                    if !located || !scheme["name"].is_string() {
                        problems.push(format!("security scheme {name}: apiKey without name or in"));
                    }
                }
                Some("http") if scheme["scheme"].is_string() => {}
                Some("mutualTLS" | "oauth2" | "openIdConnect") => {}
                _ => problems.push(format!("security scheme {name}: no valid type")),
            }
        }
        let mut requirements = vec![("(document)".to_string(), &doc["security"])];
        let tags: Option<BTreeSet<&str>> = doc["tags"]
            .as_array()
            .map(|tags| tags.iter().filter_map(|t| t["name"].as_str()).collect());
        let mut operation_ids = BTreeMap::new();
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            if !template.starts_with('/') {
                problems.push(format!("path {template} does not start with /"));
            }
            let Some(item) = item.as_object() else {
                problems.push(format!("path {template} is not an object"));
                continue;
            };
            for (key, operation) in item {
                match key.as_str() {
                    "summary" | "description" | "parameters" | "servers" => continue,
                    "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace" => {}
                    other => {
                        problems.push(format!("path {template}: {other} is not a path item key"));
                        continue;
                    }
                }
                let at = format!("{key} {template}");
                let pointer = format!("/paths/{}/{key}", escape(template));
                requirements.push((at.clone(), &operation["security"]));
                if let Some(id) = operation["operationId"].as_str() {
                    if let Some(first) = operation_ids.insert(id.to_string(), at.clone()) {
                        problems.push(format!("operationId {id} of {at} is also {first}'s"));
                    }
                }
                for tag in operation["tags"].as_array().into_iter().flatten() {
                    let tag = tag.as_str().unwrap_or_default();
                    if tags.as_ref().is_some_and(|tags| !tags.contains(tag)) {
                        problems.push(format!("{at}: tag {tag} is not declared"));
                    }
                }
                path_parameters(doc, template, item, operation, &at, &mut problems);
                operation_problems(doc, &pointer, operation, &at, &mut problems);
            }
        }
        for (at, requirement) in requirements {
            for name in requirement
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(Map::keys)
            {
                if !schemes.contains_key(name) {
                    problems.push(format!("{at}: security scheme {name} is not declared"));
                }
            }
        }
        problems
    }
}

/// Checks an operation's parameters, request body and responses (see [`Spec::problems`]).
fn operation_problems(
    doc: &Value,
    pointer: &str,
    operation: &Value,
    at: &str,
    problems: &mut Vec<String>,
) {
    if let Some((request, body)) = resolve(doc, &format!("{pointer}/requestBody")) {
        media_problems(
            doc,
            &request,
            &body["content"],
            &format!("{at} request"),
            problems,
        );
    }
    let responses = operation["responses"].as_object();
    if responses.is_none_or(Map::is_empty) {
        problems.push(format!("{at}: no responses"));
    }
    for status in responses.into_iter().flat_map(Map::keys) {
        let what = format!("{at} → {status}");
        let valid = status == "default"
            || (status.len() == 3
                && status.starts_with(['1', '2', '3', '4', '5'])
                && (status[1..].chars().all(|c| c.is_ascii_digit()) || &status[1..] == "XX"));
        if !valid {
            problems.push(format!("{what}: not a status"));
        }
        let Some((response_pointer, response)) =
            resolve(doc, &format!("{pointer}/responses/{}", escape(status)))
        else {
            continue; // reported as an unresolved $ref
        };
        if !response["description"].is_string() {
            problems.push(format!("{what}: no description"));
        }
        media_problems(
            doc,
            &response_pointer,
            &response["content"],
            &what,
            problems,
        );
        for (name, _) in response["headers"].as_object().into_iter().flatten() {
            let header = format!("{response_pointer}/headers/{}", escape(name));
            if name.eq_ignore_ascii_case("content-type") {
                problems.push(format!("{what}: Content-Type is not a header to document"));
            }
            if let Some((header_pointer, _)) = resolve(doc, &header) {
                if let Err(e) = violations(doc, &format!("{header_pointer}/schema"), &Value::Null) {
                    problems.push(format!("{what} header {name}: {e}"));
                }
            }
        }
    }
}

/// Every media type of a `content` map: its schema compiles, and its examples pass it.
fn media_problems(
    doc: &Value,
    pointer: &str,
    content: &Value,
    what: &str,
    problems: &mut Vec<String>,
) {
    for (media, object) in content.as_object().into_iter().flatten() {
        let schema = format!("{pointer}/content/{}/schema", escape(media));
        if object.get("schema").is_none() {
            continue;
        }
        if let Err(e) = violations(doc, &schema, &Value::Null) {
            problems.push(format!("{what} {media}: {e}"));
            continue;
        }
        let named = object["examples"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, example)| (format!("example {name}"), &example["value"]));
        let examples = object
            .get("example")
            .map(|example| ("example".to_string(), example))
            .into_iter()
            .chain(named);
        for (name, example) in examples {
            let found = violations(doc, &schema, example).unwrap_or_default();
            if !found.is_empty() {
                problems.push(format!(
                    "{what} {media}: {name} breaks its schema:\n{}",
                    found.join("\n")
                ));
            }
        }
    }
}

/// The path parameters of an operation (its own and its path item's) match its template.
fn path_parameters(
    doc: &Value,
    template: &str,
    item: &Map<String, Value>,
    operation: &Value,
    at: &str,
    problems: &mut Vec<String>,
) {
    let in_template: BTreeSet<&str> = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    let mut declared = BTreeSet::new();
    let parameters = item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .chain(operation["parameters"].as_array())
        .flatten();
    for parameter in parameters {
        let parameter = match parameter["$ref"].as_str() {
            Some(target) => match doc.pointer(&pointer_of(target)) {
                Some(found) => found,
                None => continue, // reported as an unresolved $ref
            },
            None => parameter,
        };
        let name = parameter["name"].as_str().unwrap_or_default();
        match parameter["in"].as_str() {
            Some("path") => {
                if parameter["required"] != json!(true) {
                    problems.push(format!("{at}: path parameter {name} is not required"));
                }
                if !in_template.contains(name) {
                    problems.push(format!(
                        "{at}: path parameter {name} is not in the template"
                    ));
                }
                declared.insert(name.to_string());
            }
            Some("query" | "header" | "cookie") => {}
            _ => problems.push(format!("{at}: parameter {name} has no valid `in`")),
        }
        if let Some(schema) = parameter.get("schema") {
            if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
                problems.push(format!("{at}: parameter {name}'s schema: {e}"));
            }
        }
    }
    for name in in_template {
        if !declared.contains(name) {
            problems.push(format!("{at}: {{{name}}} has no path parameter"));
        }
    }
}

/// Every `$ref` under `value` (at `at`) must be local and resolve. Example values are data,
/// not the document, and are not looked into.
fn unresolved_refs(doc: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref") {
                let resolves = target
                    .as_str()
                    .filter(|t| t.starts_with('#'))
                    .is_some_and(|t| doc.pointer(&pointer_of(t)).is_some());
                if !resolves {
                    problems.push(format!("{at}: $ref {target} resolves to nothing"));
                }
            }
            for (key, child) in map {
                let child_at = format!("{at}/{}", escape(key));
                match key.as_str() {
                    "example" | "default" | "const" | "enum" => {}
                    // A media type's examples (Example Objects) may be `$ref`s; their values
                    // are data. A schema's `examples` is an array of data.
                    "examples" => {
                        for (name, example) in child.as_object().into_iter().flatten() {
                            if let Some(target) = example.get("$ref") {
                                let ok = target
                                    .as_str()
                                    .is_some_and(|t| doc.pointer(&pointer_of(t)).is_some());
                                if !ok {
                                    problems.push(format!(
                                        "{child_at}/{name}: $ref {target} resolves to nothing"
                                    ));
                                }
                            }
                        }
                    }
                    _ => unresolved_refs(doc, child, &child_at, problems),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unresolved_refs(doc, item, &format!("{at}/{i}"), problems);
            }
        }
        _ => {}
    }
}

/// The JSON Pointer of a local `$ref` (`#/components/schemas/X`), percent-decoded.
fn pointer_of(reference: &str) -> String {
    let fragment = reference.trim_start_matches('#');
    let bytes = fragment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The object at `pointer`, following one `$ref` there; with the pointer it was found at.
fn resolve<'d>(doc: &'d Value, pointer: &str) -> Option<(String, &'d Value)> {
    let found = doc.pointer(pointer)?;
    match found["$ref"].as_str() {
        Some(target) => {
            let target = pointer_of(target);
            let resolved = doc.pointer(&target)?;
            Some((target, resolved))
        }
        None => Some((pointer.to_string(), found)),
    }
}

/// The violations of `instance` against the schema at `pointer` in `doc` (the root, so the
/// schema's `$ref`s resolve); `Err` when the schema does not compile.
fn violations(doc: &Value, pointer: &str, instance: &Value) -> Result<Vec<String>, String> {
    let mut root = doc.clone();
    if let Some(root) = root.as_object_mut() {
        // A URI fragment: the template's braces must be percent-encoded.
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        root.insert("$ref".into(), json!(format!("#{fragment}")));
    }
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("{pointer} does not compile: {e}"))?;
    Ok(validator
        .iter_errors(instance)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect())
}

/// JSON Pointer escaping of one token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn close_responses(responses: &mut Value) {
    for response in responses
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        for media in response
            .get_mut("content")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if let Some(schema) = media.get_mut("schema") {
                close(schema);
            }
        }
    }
}

/// Closes every object schema with `properties` in `schema` (see [`Spec`]).
fn close(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    for key in ["properties", "$defs"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(close);
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            children.iter_mut().for_each(close);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = object.get_mut(key) {
            close(child);
        }
    }
}
