//! A direct call in generic code whose backend parameter lacks the backend trait.

use dal::{Backend, Keyed, Repository};

pub async fn remember<T: Keyed, B: Backend>(repo: &Repository<T, B>, item: &T) -> dal::Result<()> {
    repo.put(item).await
}

fn main() {}
