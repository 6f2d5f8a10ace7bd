//! `backup-operator`: prints the CRDs (`crd`) or runs the Backup, Restore and BackupSchedule controllers (`run`).

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Backup, Restore and BackupSchedule controllers for TiDB clusters (pingcap.com/v1alpha1).
#[derive(Parser, Debug)]
#[command(name = "backup-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the Backup, Restore and BackupSchedule CustomResourceDefinitions as YAML.
    Crd,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => print!("{}", operator::api::crd::crds_yaml()),
    }
    Ok(())
}
