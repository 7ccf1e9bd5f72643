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
    use dal::{Memory, RecordStore, Repository};

    macro_rules! declare {
        ($key:ty, $text:ty) => {
            #[derive(Debug, Clone, PartialEq, dal::Entity)]
            pub struct FromMacro {
                #[entity(id)]
                pub id: $key,
                pub label: $text,
                pub score: Option<f64>,
                #[entity(json)]
                pub tags: Vec<String>,
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
            assert_eq!(repo.get(&7).await.expect("get"), Some(row));
        });
    }
}
