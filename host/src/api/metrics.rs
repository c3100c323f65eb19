//! `GET /metrics`: Prometheus text exposition.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::metrics::{Sample, label, render_process, render_recorded, write_family};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(16 << 10);
    render_recorded(&mut out);
    render_process(&mut out);
    let buses: Vec<Sample> = state
        .store()
        .buses()
        .iter()
        .map(|b| Sample {
            labels: format!("bus=\"{}\"", label(&b.name)),
            value: b.last_seq() as f64,
        })
        .collect();
    write_family(
        &mut out,
        "signalbox_bus_last_seq",
        "gauge",
        "Sequence number of the newest event, by bus.",
        &buses,
    );
    state.rules().render_metrics(&mut out).await;
    state.sources().render_metrics(&mut out).await;
    let store = state.store().clone();
    if let Ok(stats) = tokio::task::spawn_blocking(move || store.engine_stats()).await {
        for (name, help, value) in stats {
            write_family(
                &mut out,
                name,
                "gauge",
                help,
                &[Sample {
                    labels: String::new(),
                    value: value as f64,
                }],
            );
        }
    }
    let plugins = state.registry().list().len();
    write_family(
        &mut out,
        "signalbox_plugins",
        "gauge",
        "Plugin versions in the registry.",
        &[Sample {
            labels: String::new(),
            value: plugins as f64,
        }],
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
