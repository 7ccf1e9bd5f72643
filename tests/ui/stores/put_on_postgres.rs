//! `put` called directly on a repository whose backend is no cache.

use dal::{Entity, Repository};
use dal_backends::postgres::Postgres;

#[derive(Clone, Entity)]
pub struct Session {
    #[entity(id)]
    pub token: String,
    pub user: String,
}

pub async fn remember(sessions: &Repository<Session, Postgres>, s: &Session) -> dal::Result<()> {
    sessions.put(s).await
}

fn main() {}
