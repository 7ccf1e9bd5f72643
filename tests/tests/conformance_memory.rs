//! The conformance suite against the memory backend: every group, every case.

dal::conformance_suite! {
    backend: memory,
    setup: |_namespace: String| async move { dal::Memory::new() },
    stores: [
        records, time_series, metrics, cache, transactions,
        differential_records, differential_time_series, differential_metrics, differential_cache,
    ],
}

/// An entity declared inside a `macro_rules!` (types written in the macro, so their spans carry
/// its hygiene) derives and round-trips: the generated code's own names resolve at the call site.
mod declared_by_a_macro {
    use dal::{Filter, ListQuery, Memory, RecordStore, Repository};

    macro_rules! declare {
        ($key:ty, $text:ty) => {
            #[derive(Debug, Clone, PartialEq, dal::Entity)]
            pub(super) struct FromMacro {
                #[entity(id)]
                id: $key,
                label: $text,
                score: Option<f64>,
                #[entity(json)]
                tags: Vec<String>,
            }
        };
    }

    declare!(i64, String);

    #[test]
    fn an_entity_declared_by_a_macro_rules_round_trips() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let repo: Repository<FromMacro, Memory> = Repository::new(Memory::new());
            let row = FromMacro {
                id: 7,
                label: "x".into(),
                score: Some(1.5),
                tags: vec!["a".into()],
            };
            repo.save(&row).await.expect("save");
            assert_eq!(repo.get(&7).await.expect("get"), Some(row.clone()));
            // The generated columns work too.
            let filter = FromMacro::LABEL
                .eq("x".to_owned())
                .and(FromMacro::SCORE.is_not_null())
                .and(FromMacro::ID.gt(6));
            let page = repo.list(&ListQuery::new(filter, 10)).await.expect("list");
            assert_eq!(page.items, [row]);
            let none: Filter<FromMacro> = FromMacro::LABEL.eq("y".to_owned());
            let page = repo.list(&ListQuery::new(none, 10)).await.expect("list");
            assert!(page.items.is_empty());
        });
    }
}
