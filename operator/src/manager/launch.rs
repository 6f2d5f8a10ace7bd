//! How a [`ToolJob`] becomes a child process: the executable, its argv with the TiDB password added the only way
//! the tool accepts it, its environment, and the private files it reads. Pure: the same plan drives the real
//! spawn and `--dry-run`, whose printed command line masks every secret.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::api::storage::ProviderKind;

use super::credentials::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_CLIENT_SECRET, AZURE_STORAGE_ACCOUNT,
    AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, Credentials, GCS_SERVICE_ACCOUNT_JSON_KEY, TIDB_PASSWORD,
};
use super::redact::MASK;
use super::tool::{PasswordInput, ToolJob, quote_words};

/// lightning's config file (holds `[tidb] password`).
pub const LIGHTNING_CONFIG: &str = "tidb-lightning.toml";
/// The GCS service account key, as a file the Google libraries inside the tools can read.
pub const GCS_KEY_FILE: &str = "gcs-credentials.json";
/// The variable that names that file to the tools.
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// A file written with mode 0600 into the run's private directory before the tool starts, removed after.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateFile {
    pub name: &'static str,
    pub contents: String,
}

impl fmt::Debug for PrivateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateFile({}, {} bytes)", self.name, self.contents.len())
    }
}

/// How one credential reaches the tool (for logs and `--dry-run`; names only, never values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialUse {
    pub variable: &'static str,
    pub how: String,
}

/// Everything needed to start the tool.
#[derive(Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    /// The real argv after the program; may hold a secret (dumpling's `--password`), so never print it.
    pub args: Vec<String>,
    /// Variables set on the child (no secret values).
    pub env: Vec<(String, String)>,
    /// Secret variables the child must not inherit because it receives them another way.
    pub env_remove: Vec<&'static str>,
    pub files: Vec<PrivateFile>,
    /// The command line with every secret masked.
    pub display: String,
    pub credentials: Vec<CredentialUse>,
}

impl fmt::Debug for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Launch")
            .field("display", &self.display)
            .field("env", &self.env)
            .field("env_remove", &self.env_remove)
            .field("files", &self.files)
            .finish()
    }
}

#[derive(Serialize)]
struct LightningConfig<'a> {
    tidb: LightningTidb<'a>,
}

#[derive(Serialize)]
struct LightningTidb<'a> {
    password: &'a str,
}

/// Plans the launch of `job` with `credentials`, running `tools_dir/<binary>`, private files in `private_dir`.
pub fn plan(job: &ToolJob, credentials: &Credentials, tools_dir: &Path, private_dir: &Path) -> Launch {
    let mut args = job.args.clone();
    let mut shown = job.args.clone();
    let mut env = job.env.clone();
    let mut env_remove = vec![TIDB_PASSWORD];
    let mut files = Vec::new();
    let mut uses = Vec::new();

    match (job.password, credentials.get(TIDB_PASSWORD)) {
        (Some(PasswordInput::Flag), Some(password)) => {
            args.push(format!("--password={password}"));
            shown.push(format!("--password={MASK}"));
            uses.push(CredentialUse {
                variable: TIDB_PASSWORD,
                how: format!("passed as --password, the only way {} accepts it", job.tool),
            });
        }
        (Some(PasswordInput::ConfigFile), Some(password)) => {
            let contents = toml::to_string(&LightningConfig { tidb: LightningTidb { password } })
                .expect("a struct of strings always serializes to TOML");
            files.push(PrivateFile { name: LIGHTNING_CONFIG, contents });
            let flag = format!("--config={}", private_dir.join(LIGHTNING_CONFIG).display());
            args.push(flag.clone());
            shown.push(flag);
            uses.push(CredentialUse {
                variable: TIDB_PASSWORD,
                how: format!("written as [tidb] password to {LIGHTNING_CONFIG} (mode 0600), named by --config"),
            });
        }
        (Some(_), None) => uses.push(CredentialUse {
            variable: TIDB_PASSWORD,
            how: "not set: the tool connects to TiDB without a password".into(),
        }),
        (None, _) => {}
    }

    if job.location.kind == ProviderKind::Gcs
        && let Some(key) = credentials.get(GCS_SERVICE_ACCOUNT_JSON_KEY)
    {
        files.push(PrivateFile { name: GCS_KEY_FILE, contents: key.to_string() });
        env.push((GOOGLE_APPLICATION_CREDENTIALS.into(), private_dir.join(GCS_KEY_FILE).display().to_string()));
        env_remove.push(GCS_SERVICE_ACCOUNT_JSON_KEY);
        uses.push(CredentialUse {
            variable: GCS_SERVICE_ACCOUNT_JSON_KEY,
            how: format!("written to {GCS_KEY_FILE} (mode 0600), named by {GOOGLE_APPLICATION_CREDENTIALS}"),
        });
    }
    let inherited: &[&'static str] = match job.location.kind {
        ProviderKind::S3 => &[AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN],
        ProviderKind::Azblob => {
            &[AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_CLIENT_SECRET]
        }
        ProviderKind::Gcs | ProviderKind::Local => &[],
    };
    for variable in inherited.iter().copied().filter(|v| credentials.get(v).is_some()) {
        uses.push(CredentialUse { variable, how: "inherited from the Job's environment".into() });
    }

    let mut words = vec![job.tool.binary().to_string()];
    words.extend(shown);
    Launch {
        program: tools_dir.join(job.tool.binary()),
        args,
        env,
        env_remove,
        files,
        display: quote_words(&words),
        credentials: uses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::storage::StorageLocation;
    use crate::manager::tool::{Operation, ToolKind};

    fn job(tool: ToolKind, kind: ProviderKind, password: Option<PasswordInput>) -> ToolJob {
        ToolJob {
            tool,
            operation: Operation::Export,
            location: StorageLocation { kind, root: "b".into(), prefix: "p".into() },
            args: vec!["--host=tidb".into()],
            env: Vec::new(),
            password,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn dumpling_gets_the_password_as_a_flag_that_is_never_displayed() {
        let creds = Credentials::default().with(TIDB_PASSWORD, "pa ss");
        let l = plan(
            &job(ToolKind::Dumpling, ProviderKind::S3, Some(PasswordInput::Flag)),
            &creds,
            Path::new("/t"),
            Path::new("/p"),
        );
        assert_eq!(l.program, Path::new("/t/dumpling"));
        assert_eq!(l.args.last().unwrap(), "--password=pa ss");
        assert_eq!(l.display, "dumpling --host=tidb '--password=******'");
        assert!(!format!("{l:?}").contains("pa ss"));
        assert!(l.env_remove.contains(&TIDB_PASSWORD));
    }

    #[test]
    fn lightning_reads_the_password_from_a_private_toml_file() {
        let creds = Credentials::default().with(TIDB_PASSWORD, "a\"b\\c");
        let l = plan(
            &job(ToolKind::Lightning, ProviderKind::S3, Some(PasswordInput::ConfigFile)),
            &creds,
            Path::new("/t"),
            Path::new("/p"),
        );
        assert_eq!(l.args.last().unwrap(), "--config=/p/tidb-lightning.toml");
        let parsed: toml::Table = toml::from_str(&l.files[0].contents).unwrap();
        assert_eq!(parsed["tidb"]["password"].as_str(), Some("a\"b\\c"));
        assert!(!l.display.contains("a\"b"));
    }

    #[test]
    fn a_gcs_key_becomes_a_private_file_named_by_google_application_credentials() {
        let creds = Credentials::default().with(GCS_SERVICE_ACCOUNT_JSON_KEY, "{\"k\":1}");
        let l = plan(&job(ToolKind::Br, ProviderKind::Gcs, None), &creds, Path::new("/t"), Path::new("/p"));
        assert_eq!(l.files[0].name, GCS_KEY_FILE);
        assert!(l.env.contains(&(GOOGLE_APPLICATION_CREDENTIALS.into(), "/p/gcs-credentials.json".into())));
        assert!(l.env_remove.contains(&GCS_SERVICE_ACCOUNT_JSON_KEY));
    }

    #[test]
    fn without_a_password_secret_nothing_is_added() {
        let l =
            plan(&job(ToolKind::Br, ProviderKind::S3, None), &Credentials::default(), Path::new("/t"), Path::new("/p"));
        assert_eq!(l.args, vec!["--host=tidb"]);
        assert!(l.files.is_empty());
    }
}
