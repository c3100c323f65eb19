//! `signalbox token …`: API tokens.

use std::process::ExitCode;

use reqwest::Method;
use serde_json::{Value, json};

use super::Output;
use super::client::{Client, segment};
use super::output::{cell, print};
use crate::auth::{TokenSecret, hash_secret};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCmd {
    /// Create a token on the server and print its secret (shown once).
    Create {
        /// A name for the token.
        #[arg(long)]
        name: String,
        /// Scope: admin, metrics, publish:<bus|*>, read:<bus|*> (repeatable).
        #[arg(long = "scope", short, required = true)]
        scopes: Vec<String>,
        /// Lifetime, e.g. 90d (default: never expires).
        #[arg(long)]
        ttl: Option<String>,
        /// Also issue an AWS access key for the token (for AWS clients
        /// signing calls to the AWS API; see docs/aws.md).
        #[arg(long)]
        aws: bool,
    },
    /// List tokens (never their secrets).
    #[command(alias = "ls")]
    List,
    /// Revoke a token by id.
    Revoke {
        /// Token id.
        id: String,
    },
    /// Generate a secret and its hash for the config file, without a server:
    /// the way to create the first admin token.
    Hash,
}

const HEADERS: [&str; 5] = ["ID", "NAME", "SCOPES", "CREATED", "EXPIRES"];

fn row(t: &Value) -> Vec<String> {
    vec![
        cell(&t["id"]),
        cell(&t["name"]),
        t["scopes"]
            .as_array()
            .map(|a| a.iter().map(cell).collect::<Vec<_>>().join(","))
            .unwrap_or_default(),
        cell(&t["created_at"]),
        cell(&t["expires_at"]),
    ]
}

pub(crate) async fn run(client: &Client, out: Output, cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Create {
            name,
            scopes,
            ttl,
            aws,
        } => {
            let mut body = json!({"name": name, "scopes": scopes});
            if let Some(t) = ttl {
                body["ttl"] = json!(t);
            }
            if aws {
                body["aws"] = json!(true);
            }
            let (_, v) = client
                .send(client.request(Method::POST, "/v1/tokens").json(&body))
                .await?;
            match out {
                Output::Json => println!("{v}"),
                Output::Table => {
                    println!("{}", v["secret"].as_str().unwrap_or(""));
                    if aws {
                        println!(
                            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}",
                            cell(&v["aws"]["access_key_id"]),
                            cell(&v["aws"]["secret_access_key"])
                        );
                    }
                    eprintln!(
                        "token {} created; the secret above is shown only once",
                        cell(&v["token"]["id"])
                    );
                }
            }
        }
        TokenCmd::List => {
            let v = client.get("/v1/tokens").await?;
            let rows = v["tokens"]
                .as_array()
                .map(|a| a.iter().map(row).collect())
                .unwrap_or_default();
            print(out, &v, &HEADERS, rows);
        }
        TokenCmd::Revoke { id } => {
            client
                .send(client.request(Method::DELETE, &format!("/v1/tokens/{}", segment(&id))))
                .await?;
            println!("token {id} revoked");
        }
        TokenCmd::Hash => {
            let secret = TokenSecret::generate().map_err(|e| anyhow::anyhow!(e))?;
            let hash = hash_secret(secret.expose());
            match out {
                Output::Json => println!("{}", json!({"secret": secret.expose(), "hash": hash})),
                Output::Table => {
                    println!("secret: {}", secret.expose());
                    println!("\nAdd to the config file (the server keeps only the hash):\n");
                    println!(
                        "[[auth.tokens]]\nname = \"admin\"\nscopes = [\"admin\"]\nhash = \"{hash}\""
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
