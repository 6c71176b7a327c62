//! The function record: what Nubo knows about one version of a function.
//!
//! Stored as a JSON document through the store; the edge maps it to botocore's
//! `FunctionConfiguration`. Values here are already validated (see [`super::validate`]); the
//! scope a record lives in is its store key's ([`super::collections`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_wire::FunctionName;
use serde::{Deserialize, Serialize};

/// The version name of the mutable head of a function.
pub use nubo_wire::LATEST;

/// Where a function's code lives in the code store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    /// Hex SHA-256 of the zip (content address).
    pub sha256_hex: String,
    /// Base64 SHA-256 (`CodeSha256`).
    pub sha256_base64: String,
    /// Zip size in bytes (`CodeSize`).
    pub size: u64,
    /// Unzipped bytes (0 in records written before it was kept).
    #[serde(default)]
    pub unzipped_size: u64,
}

/// Where `$LATEST` stands in Lambda's state machine, as `State` and `LastUpdateStatus` report it.
///
/// A change leaves it `Creating` or `Updating` until the registry settles it (milliseconds later,
/// with a new revision; see `control::lifecycle`); published versions are always `Ready`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    /// Just created: `State: Pending` (`StateReasonCode: Creating`); it cannot be invoked or
    /// changed yet.
    Creating,
    /// Just updated: `State: Active`, `LastUpdateStatus: InProgress`; it cannot be changed yet.
    Updating,
    /// `State: Active`, `LastUpdateStatus: Successful`.
    #[default]
    Ready,
}

/// One version of a function (`$LATEST` or a published number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    /// Function name.
    pub name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Runtime identifier, e.g. `python3.12`.
    pub runtime: String,
    /// Execution role ARN.
    pub role: String,
    /// Handler string (`app.handler`); optional for `provided` runtimes.
    pub handler: Option<String>,
    /// Free text.
    pub description: String,
    /// Timeout in seconds (1–900).
    pub timeout_seconds: u32,
    /// Memory in MB (128–10240).
    pub memory_mb: u32,
    /// `/tmp` size in MB (512–10240).
    pub ephemeral_storage_mb: u32,
    /// User environment variables.
    pub environment: BTreeMap<String, String>,
    /// Whether `Environment` was given at all (AWS echoes a given empty one as
    /// `{"Variables": {}}` and leaves out one never given).
    #[serde(default)]
    pub environment_set: bool,
    /// Resource tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `x86_64` or `arm64`.
    pub architectures: Vec<String>,
    /// `PassThrough` or `Active`.
    pub tracing_mode: String,
    /// Its layers, in order, as they were when it was configured.
    #[serde(default)]
    pub layers: Vec<super::layers::AttachedLayer>,
    /// Dead-letter target ARN, if configured.
    #[serde(default)]
    pub dead_letter_target: Option<String>,
    /// Log format (`Text` or `JSON`).
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// The rest of `LoggingConfig`.
    #[serde(default)]
    pub logging: LoggingSettings,
    /// The code.
    pub code: CodeRef,
    /// `LastModified`, already formatted as AWS does.
    pub last_modified: String,
    /// Changes on every update; the optimistic-concurrency token.
    pub revision_id: String,
    /// Reserved concurrency (kept on `$LATEST`; it applies to the whole function).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// The highest version number ever published (kept on `$LATEST`; numbers are never reused).
    #[serde(default)]
    pub last_published_version: u64,
    /// On a published version: the `$LATEST` revision it was published from.
    #[serde(default)]
    pub source_revision: Option<String>,
    /// Where it stands in the state machine (records written before it are `Ready`).
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Set when a change settled: the revision of the change itself, which environments keep
    /// running under (settling issues a new `RevisionId`, not new environments).
    #[serde(default)]
    pub environment_revision: Option<String>,
}

impl FunctionRecord {
    /// What this version's environments are keyed by: the revision of its last change of code or
    /// configuration.
    pub fn environment_revision(&self) -> &str {
        self.environment_revision
            .as_deref()
            .unwrap_or(&self.revision_id)
    }
}

/// `LoggingConfig` beyond its format: what was given (`None`: Lambda's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingSettings {
    /// `ApplicationLogLevel` (JSON format only; `INFO` by default).
    #[serde(default)]
    pub application_log_level: Option<String>,
    /// `SystemLogLevel` (JSON format only; `INFO` by default).
    #[serde(default)]
    pub system_log_level: Option<String>,
    /// `LogGroup` (`/aws/lambda/<name>` by default).
    #[serde(default)]
    pub log_group: Option<String>,
}

/// An alias: a name for a version, optionally sending a share of traffic to a second one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// The function's name.
    pub function_name: String,
    /// The alias name.
    pub name: String,
    /// The version it points at (a number or `$LATEST`).
    pub function_version: String,
    /// Free text.
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`: version → share of traffic (0–1).
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
    /// Optimistic-concurrency token.
    pub revision_id: String,
}

/// A shared, immutable alias; replaced on update.
pub type AliasSnapshot = Arc<AliasRecord>;

fn default_log_format() -> String {
    "Text".into()
}

/// A shared, immutable snapshot of a function version; replaced (not mutated) on update.
pub type FunctionSnapshot = Arc<FunctionRecord>;

/// The validated input of CreateFunction (everything but the code, which arrives as bytes).
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Name.
    pub name: FunctionName,
    /// Runtime identifier.
    pub runtime: String,
    /// Role ARN.
    pub role: String,
    /// Handler.
    pub handler: Option<String>,
    /// Description.
    pub description: String,
    /// Seconds.
    pub timeout_seconds: u32,
    /// MB.
    pub memory_mb: u32,
    /// MB.
    pub ephemeral_storage_mb: u32,
    /// Variables.
    pub environment: BTreeMap<String, String>,
    /// Whether `Environment` was given.
    pub environment_set: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Architectures.
    pub architectures: Vec<String>,
    /// Tracing mode.
    pub tracing_mode: String,
    /// Layers.
    pub layers: Vec<String>,
    /// DLQ.
    pub dead_letter_target: Option<String>,
    /// Log format.
    pub log_format: String,
    /// Log levels and group.
    pub logging: LoggingSettings,
}

/// A validated UpdateFunctionConfiguration: `None` leaves a member as it is.
#[derive(Debug, Clone, Default)]
pub struct ConfigurationUpdate {
    /// Runtime.
    pub runtime: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Seconds.
    pub timeout_seconds: Option<u32>,
    /// MB.
    pub memory_mb: Option<u32>,
    /// MB.
    pub ephemeral_storage_mb: Option<u32>,
    /// Replaces all variables when present.
    pub environment: Option<BTreeMap<String, String>>,
    /// Tracing.
    pub tracing_mode: Option<String>,
    /// Layers.
    pub layers: Option<Vec<String>>,
    /// DLQ (`Some(None)` clears it).
    pub dead_letter_target: Option<Option<String>>,
    /// Log format.
    pub log_format: Option<String>,
    /// Log levels and group (each `Some` replaces what is stored).
    pub logging: LoggingSettings,
    /// Precondition.
    pub revision_id: Option<String>,
}
