//! The embedders songrec can run, by the names users type: the name registry in [`names`], the
//! embedders built by name in [`make`]; the neural runtime's choice in [`runtime`], the started
//! embedders of a long-running process in [`pool`], what a library made by older versions needs
//! in [`upgrade`].

mod make;
mod names;
mod pool;
mod runtime;
mod upgrade;

pub use make::{by_name, by_name_with, parse_list, parse_list_with};
pub use names::{
    DEFAULT, MODEL_CREDITS, NAMES, OLD_DEFAULT, PREVIOUS_DEFAULTS, model_by_name, model_of,
    models_of_list, short_name,
};
pub use pool::Pool;
pub use runtime::*;
pub use upgrade::*;

#[cfg(test)]
mod tests {
    use songrec_config::EmbedderConfig;
    use songrec_storage::ModelInfo;

    use super::*;

    #[test]
    fn outdated_models_are_older_versions_of_live_embedders() {
        use songrec_storage::ModelStats;
        let live = model_by_name("dsp").unwrap();
        let older = ModelInfo::new(live.name.clone(), "0", live.dim);
        let stats = |model: ModelInfo, count| ModelStats { model, count };
        let found = outdated_models(&[
            stats(live.clone(), 5),
            stats(older.clone(), 3),
            stats(ModelInfo::new("legacy", "0", 8), 9),
            stats(ModelInfo::new(live.name.clone(), "7", live.dim), 0),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].stored.model.clone(), found[0].live.clone()),
            (older, live)
        );
        let advice = found[0].advice();
        assert!(
            advice.starts_with("3 songs have songrec-dsp@0 vectors")
                && advice.contains("songrec reembed --embedder dsp"),
            "{advice}"
        );
    }

    #[test]
    fn names_and_models() {
        assert!(by_name_with("jazzhands", &EmbedderConfig::default()).is_err());
        assert_eq!(models_of_list("dsp,musicnn").unwrap()[1].dim, 400);
        let a = model_by_name("aisfx").unwrap();
        assert_eq!(
            (a.name.as_str(), a.version.as_str(), a.dim),
            ("aisfx", "1", 1024)
        );
        assert_eq!(models_of_list("both").unwrap().len(), 2);
        assert_eq!(
            model_by_name("dsp").unwrap(),
            model_of(
                by_name_with("dsp", &EmbedderConfig::default())
                    .unwrap()
                    .as_ref()
            )
        );
    }

    #[test]
    fn a_bad_library_is_one_clear_error() {
        let cfg = EmbedderConfig {
            onnxruntime_library: Some("/no/such/libonnxruntime.so".into()),
            ..EmbedderConfig::default()
        };
        let err = match by_name_with("musicnn", &cfg) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a missing library must fail"),
        };
        assert!(err.contains("/no/such/libonnxruntime.so"), "{err}");
        assert!(err.contains("SONGREC_ORT_LIBRARY"), "{err}");
    }

    #[test]
    fn a_configured_runtime_wins_over_discovery() {
        use songrec_config::NeuralRuntime;
        let lib = std::path::PathBuf::from("/opt/ort/libonnxruntime.so.1.31.1");
        let mut cfg = EmbedderConfig {
            onnxruntime_library: Some(lib.clone()),
            ..EmbedderConfig::default()
        };
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(c.source, RuntimeSource::Configured);
        assert_eq!(
            c.runtime,
            songrec_neural::Runtime::OnnxRuntime { library: lib }
        );
        assert!(c.to_string().contains("/opt/ort/"), "{c}");
        cfg.runtime = NeuralRuntime::Tract;
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(c.runtime, songrec_neural::Runtime::Tract);
        assert!(c.to_string().contains("as configured"), "{c}");
    }

    #[test]
    fn discovery_off_loads_only_a_configured_library() {
        use songrec_config::NeuralRuntime;
        let mut cfg = EmbedderConfig {
            onnxruntime_discovery: false,
            ..EmbedderConfig::default()
        };
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(
            c.runtime,
            songrec_neural::Runtime::Tract,
            "auto without a search"
        );
        assert_eq!(c.source, RuntimeSource::BuiltIn);
        cfg.runtime = NeuralRuntime::Onnxruntime;
        let err = runtime_choice(&cfg)
            .expect_err("nothing configured")
            .to_string();
        assert!(err.contains("onnxruntime_discovery"), "{err}");
        let env: std::collections::HashMap<String, String> =
            [("SONGREC_ORT_DISCOVERY".to_string(), "0".to_string())].into();
        let parsed = songrec_config::Config::from_sources(None, &env).unwrap();
        assert!(!parsed.embedder.onnxruntime_discovery);
        assert!(EmbedderConfig::default().onnxruntime_discovery);
    }
}
