//! The `signalbox` command line: the server (`serve`) and a client for every
//! API resource, in one binary.
//!
//! Client commands talk to `--server` (default `http://127.0.0.1:8080`, env
//! `SIGNALBOX_SERVER`) and print tables, or JSON with `--output json`.

mod bench;
mod bus;
mod client;
mod cluster;
mod events;
mod output;
mod pattern;
mod plugin;
mod put;
mod replay;
mod rule;
mod sink;
mod source;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Overrides, ServerConfig};

/// A self-hosted, WebAssembly-extensible CloudEvents router.
#[derive(Debug, Parser)]
#[command(name = "signalbox", version, about, max_term_width = 100)]
pub struct Cli {
    /// The server client commands talk to.
    #[arg(
        long,
        global = true,
        env = "SIGNALBOX_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API token for client commands (sent as a bearer token).
    #[arg(long, global = true, env = "SIGNALBOX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format of client commands.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// How client commands print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable tables.
    Table,
    /// JSON, for scripts.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage buses.
    Bus {
        #[command(subcommand)]
        cmd: bus::BusCmd,
    },
    /// Publish events: one from flags, or many from a JSON Lines file or stdin.
    Put(put::PutArgs),
    /// Read events back.
    #[command(alias = "event")]
    Events {
        #[command(subcommand)]
        cmd: events::EventsCmd,
    },
    /// Test event patterns and CESQL, and measure matching speed.
    Pattern {
        #[command(subcommand)]
        cmd: pattern::PatternCmd,
    },
    /// Manage plugins, and test them locally.
    Plugin {
        #[command(subcommand)]
        cmd: plugin::PluginCmd,
    },
    /// Manage rules.
    Rule {
        #[command(subcommand)]
        cmd: rule::RuleCmd,
    },
    /// Inspect, redrive and purge dead letters.
    Dlq {
        #[command(subcommand)]
        cmd: rule::DlqCmd,
    },
    /// Replay a range of a bus's history into rules.
    Replay {
        #[command(subcommand)]
        cmd: replay::ReplayCmd,
    },
    /// Show what happened to an event: matches, filters, delivery attempts.
    Trace(rule::TraceArgs),
    /// Manage event sources: schedules, webhooks, NATS and MQTT.
    Source {
        #[command(subcommand)]
        cmd: source::SourceCmd,
    },
    /// Send a signed request to a webhook source, as a sender would.
    Webhook {
        #[command(subcommand)]
        cmd: WebhookCmd,
    },
    /// Cluster mode: `cluster status`, `cluster import`.
    Cluster {
        #[command(subcommand)]
        cmd: cluster::ClusterCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        cmd: token::TokenCmd,
    },
    /// Load generators for measuring a running server.
    Bench {
        #[command(subcommand)]
        cmd: bench::BenchCmd,
    },
    /// Listen for HTTP requests and print (and record) what arrives: a
    /// stand-in for a downstream service.
    Sink(sink::SinkArgs),
}

/// `signalbox webhook …`.
#[derive(Debug, Subcommand)]
enum WebhookCmd {
    /// Sign a body and post it to a webhook source.
    Send(source::WebhookSendArgs),
}

/// `signalbox serve` flags.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// TOML config file.
    #[arg(long, env = "SIGNALBOX_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "SIGNALBOX_LISTEN")]
    listen: Option<String>,
    /// Data folder (RocksDB and plugins).
    #[arg(long, env = "SIGNALBOX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Allow listening beyond loopback with no API tokens configured
    /// (anyone who can reach the port can do anything).
    #[arg(long)]
    allow_unauthenticated: bool,
    /// Run as a cluster node: NATS server URLs (comma-separated) whose
    /// JetStream holds the state, instead of RocksDB in the data folder.
    #[arg(long, env = "SIGNALBOX_CLUSTER", value_name = "nats://HOST:PORT[,…]")]
    cluster: Option<String>,
    /// This node's name in the cluster (default: made once, kept in the
    /// data folder).
    #[arg(long, env = "SIGNALBOX_NODE")]
    node: Option<String>,
}

/// Parses the command line, runs the command and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Client commands print with `println!`, which panics when stdout is a
/// pipe whose reader has gone (`signalbox events tail … | head`). That is
/// not an error of ours: exit quietly with the status a shell gives a
/// process killed by `SIGPIPE` (128 + 13), as `cat` or `grep` would.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("signalbox")
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            let config = ServerConfig::resolve(Overrides {
                config: args.config,
                listen: args.listen,
                data_dir: args.data_dir,
                allow_unauthenticated: args.allow_unauthenticated,
                cluster: args.cluster,
                node: args.node,
            })?;
            init_logging(&config.log.level, config.log.json);
            runtime.block_on(crate::server::run(config))?;
            Ok(ExitCode::SUCCESS)
        }
        command => {
            quiet_on_closed_stdout();
            // Plugin output is shown even for client commands: `plugin test`
            // runs plugins locally and authors want their prints.
            init_logging("warn,signalbox::plugin::output=info", false);
            let client = client::Client::new(&cli.server, cli.token.as_deref())?;
            let out = cli.output;
            runtime.block_on(async move {
                match command {
                    Command::Serve(_) => unreachable!("handled above"),
                    Command::Bus { cmd } => bus::run(&client, out, cmd).await,
                    Command::Put(args) => put::run(&client, out, args).await,
                    Command::Events { cmd } => events::run(&client, out, cmd).await,
                    Command::Pattern { cmd } => pattern::run(&client, out, cmd).await,
                    Command::Plugin { cmd } => plugin::run(&client, out, cmd).await,
                    Command::Rule { cmd } => rule::run(&client, out, cmd).await,
                    Command::Dlq { cmd } => rule::dlq(&client, out, cmd).await,
                    Command::Trace(args) => rule::trace(&client, out, args).await,
                    Command::Source { cmd } => source::run(&client, out, cmd).await,
                    Command::Webhook {
                        cmd: WebhookCmd::Send(args),
                    } => source::send(&client, out, args).await,
                    Command::Replay { cmd } => replay::run(&client, out, cmd).await,
                    Command::Bench { cmd } => {
                        bench::run(&cli.server, cli.token.as_deref(), out, cmd).await
                    }
                    Command::Token { cmd } => token::run(&client, out, cmd).await,
                    Command::Cluster { cmd } => cluster::run(&client, out, cmd).await,
                    Command::Sink(args) => sink::run(out, args).await,
                }
            })
        }
    }
}

fn init_logging(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
