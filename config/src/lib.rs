//! Typed configuration for coderunner: schema, embedded default, YAML loading and validation.

mod ai;
mod environments;
mod error;
mod keys;
mod load;
mod locate;
mod lookup;
mod schema;
mod units;
mod validate;

pub use ai::AiConfig;
pub use environments::{
    is_set_name, requirement_problem, EnvironmentDefaults, Environments, PackageKind, PackageSet,
    MAX_SET_NAME, NO_SET,
};
pub use error::{ConfigError, Problem};
pub use load::DEFAULT_YAML;
pub use locate::{KeyIndex, Position};
pub use schema::*;
pub use units::{ByteSize, HumanDuration, UnitError};
pub use validate::{cleartext_off_host, AGENT_TYPE, MIN_MEMORY, PLACEHOLDERS};

#[cfg(test)]
mod smoke {
    #[test]
    fn default_loads() {
        let c = crate::Config::embedded_default().expect("default config");
        assert_eq!(c.agent_type, "CodeRunnerAgent");
    }
}
