//! Repository operations run in a `dal` span when a tracing subscriber wants one, and build none
//! when it does not (the span is skipped entirely on the hot path).

use std::fmt::{Debug, Write as _};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use dal::{CacheStore, Memory, Repository};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use trading::models::Price;

/// Records every span it is asked to create, as `name field=value ..`.
#[derive(Clone)]
struct Recorder {
    max_level: Level,
    spans: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn new(max_level: Level) -> Self {
        Recorder {
            max_level,
            spans: Arc::default(),
        }
    }

    fn spans(&self) -> Vec<String> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields(span.metadata().name().to_owned());
        span.record(&mut fields);
        let mut spans = self.spans.lock().expect("spans");
        spans.push(fields.0);
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn price() -> Price {
    Price {
        token: "SOL".into(),
        price: 150.0,
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn operations_run_in_a_dal_span_when_a_subscriber_wants_debug() {
    let recorder = Recorder::new(Level::DEBUG);
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let prices: Repository<Price, Memory> = Repository::new(Memory::new());
    prices.put(&price()).await.expect("put");
    let hits = prices
        .lookup_many(&["SOL".into(), "ETH".into()])
        .await
        .expect("lookup_many");
    assert_eq!(hits.iter().filter(|p| p.is_some()).count(), 1);
    assert_eq!(
        recorder.spans(),
        [
            "dal backend=memory entity=Price op=put",
            "dal backend=memory entity=Price op=lookup_many rows=2",
        ]
    );
}

#[tokio::test]
async fn no_span_is_built_when_the_subscriber_wants_only_info() {
    let recorder = Recorder::new(Level::INFO);
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let prices: Repository<Price, Memory> = Repository::new(Memory::new());
    prices.put(&price()).await.expect("put");
    assert!(
        prices
            .lookup(&"SOL".into())
            .await
            .expect("lookup")
            .is_some()
    );
    assert_eq!(recorder.spans(), Vec::<String>::new());
}
