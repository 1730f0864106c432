//! Landlock: a second wall behind the mount layout. Reads and executes only under the bound
//! system paths, writes only in the workdir, /tmp, /dev/shm and the writable devices; abstract
//! UNIX sockets and signals are scoped to the run.

use landlock::{
    path_beneath_rules, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use super::{Context, SetupError};
use crate::protocol::HelperSpec;

/// The newest ABI whose rights we ask for; older kernels get what they support and the status
/// says so (it is reported to the parent, never hidden).
const WANTED: ABI = ABI::V6;

/// The paths of the ruleset: read and execute beneath `read_exec`, read and write the devices,
/// anything beneath the writable directories. The warm pool's slots apply the same rules.
pub(crate) struct RulePaths {
    pub read_exec: Vec<String>,
    pub writable_devices: Vec<String>,
    pub writable_dirs: Vec<String>,
}

pub(crate) fn rule_paths(spec: &HelperSpec) -> RulePaths {
    RulePaths {
        read_exec: spec
            .ro_binds
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .chain(spec.ro_binds_at.iter().map(|(_, at)| at.clone()))
            .chain(["/etc".to_string(), "/proc".to_string(), "/dev".to_string()])
            .collect(),
        writable_devices: [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
        ]
        .map(String::from)
        .to_vec(),
        writable_dirs: [spec.workdir.as_str(), "/tmp", "/dev/shm"]
            .map(String::from)
            .to_vec(),
    }
}

/// Restrict the calling thread (the program, after the uid drop, before seccomp). Returns the
/// status name the parent reports.
pub(crate) fn restrict(spec: &HelperSpec) -> Result<&'static str, SetupError> {
    let RulePaths {
        read_exec,
        writable_devices,
        writable_dirs,
    } = rule_paths(spec);
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(WANTED))
        .ctx(|| "landlock: handled access".into())?
        .scope(Scope::from_all(WANTED))
        .ctx(|| "landlock: scopes".into())?
        .create()
        .ctx(|| "landlock: create ruleset".into())?
        .add_rules(path_beneath_rules(&read_exec, AccessFs::from_read(WANTED)))
        .ctx(|| "landlock: read rules".into())?
        .add_rules(path_beneath_rules(
            &writable_devices,
            AccessFs::from_read(WANTED) | AccessFs::WriteFile,
        ))
        .ctx(|| "landlock: device rules".into())?
        .add_rules(path_beneath_rules(
            &writable_dirs,
            AccessFs::from_all(WANTED),
        ))
        .ctx(|| "landlock: write rules".into())?
        .restrict_self()
        .ctx(|| "landlock: restrict_self".into())?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => "fully_enforced",
        RulesetStatus::PartiallyEnforced => "partially_enforced",
        RulesetStatus::NotEnforced => "not_enforced",
    })
}
