use dal::Entity;
use uuid::Uuid;

#[derive(Clone, Entity)]
#[entity(table = "trades_of_the_paper_trading_platform_kept_for_thirty_days_or_more")]
pub struct Trade {
    #[entity(id)]
    pub id: Uuid,
}

fn main() {}
