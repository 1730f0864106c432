//! Typed configuration for coderunner: schema, embedded default, YAML loading and validation.

mod load;
mod lookup;
mod schema;
mod units;

pub use load::{ConfigError, DEFAULT_YAML};
pub use schema::*;
pub use units::{ByteSize, HumanDuration, UnitError};

#[cfg(test)]
mod smoke {
    #[test]
    fn default_loads() {
        let c = crate::Config::embedded_default().expect("default config");
        assert_eq!(c.agent_type, "CodeRunnerAgent");
    }
}
