use dal::Entity;
use uuid::Uuid;

pub struct Fee(pub u64);

impl Clone for Fee {
    fn clone(&self) -> Self {
        Fee(self.0)
    }
}

mod fee {
    pub type Repr = std::collections::BTreeSet<u64>;
    pub fn to_repr(f: &super::Fee) -> Repr {
        [f.0].into_iter().collect()
    }
    pub fn from_repr(r: Repr) -> Result<super::Fee, String> {
        r.first().map(|v| super::Fee(*v)).ok_or_else(|| "empty".to_owned())
    }
}

#[derive(Clone, Entity)]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
    #[entity(with = "fee")]
    pub fee: Fee,
}

fn main() {}
