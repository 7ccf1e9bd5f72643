//! `save` called directly for an entity that has no key.

use chrono::{DateTime, Utc};
use dal::{Entity, Memory, Repository};

#[derive(Clone, Entity)]
pub struct LogLine {
    #[entity(timestamp)]
    pub ts: DateTime<Utc>,
    pub message: String,
}

pub async fn keep(lines: &Repository<LogLine, Memory>, line: &LogLine) -> dal::Result<()> {
    lines.save(line).await
}

fn main() {}
