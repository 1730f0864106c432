//! Access: which tier a user has, whether this place allows runs, and the limits a run gets.

use coderunner_config::{Config, HumanDuration, Profile, RoleRef, Tier};

use crate::direct::RequestedLimits;
use crate::fmt;
use crate::refusal::Refusal;
use crate::{Identity, Place, Platform};

/// Below this a run cannot even start an interpreter; refuse rather than fail mysteriously.
const MIN_MEMORY: u64 = 16 << 20;

/// What a run is allowed: its tier and the limits it gets.
#[derive(Debug, Clone)]
pub struct Grant {
    pub tier: String,
    pub admin: bool,
    pub privileged: bool,
    /// The profile the limits start from.
    pub profile: String,
    pub limits: Profile,
}

/// The highest tier whose roles the user holds, else the default tier, else a refusal.
///
/// Role ids match anywhere (they are unique across Discord). Role names match only in the
/// guilds listed in `access.guilds`: in any other server, anyone may create a role with that
/// name. In the console (the operator's own terminal) a role named like a tier gives that tier.
pub fn tier_for<'c>(
    config: &'c Config,
    who: &Identity,
    place: &Place,
) -> Result<&'c Tier, Refusal> {
    let names_apply = match who.platform {
        Platform::Console => true,
        Platform::Discord => place
            .guild
            .is_some_and(|g| config.access.guilds.contains(&g)),
        Platform::Http | Platform::Mcp => false,
    };
    let console = who.platform == Platform::Console;
    let held = config.access.tiers.iter().rev().find(|tier| {
        who.roles.iter().any(|role| {
            (console && role.name.eq_ignore_ascii_case(&tier.name))
                || tier
                    .roles
                    .iter()
                    .any(|want| want.matches(role.id, &role.name, names_apply))
        })
    });
    if let Some(tier) = held {
        return Ok(tier);
    }
    match config.access.default_tier.as_deref() {
        Some(name) => config.tier(name).ok_or_else(|| {
            Refusal::not_allowed(format!(
                "the default tier `{name}` is not configured, so nobody without a role may run code; tell the bot's operator"
            ))
        }),
        None => {
            let roles: Vec<String> = config
                .access
                .tiers
                .iter()
                .flat_map(|t| t.roles.iter())
                .map(|r| match r {
                    RoleRef::Id(id) => format!("role id {id}"),
                    RoleRef::Name(name) => name.clone(),
                })
                .collect();
            Err(Refusal::not_allowed(if roles.is_empty() {
                "running code is not open to anyone here yet (no tier is configured for users)".to_string()
            } else {
                format!(
                    "you need one of these roles to run code: {}",
                    roles.join(", ")
                )
            }))
        }
    }
}

/// Whether runs are allowed where the message was sent. A thread is judged by its parent channel.
pub fn check_place(config: &Config, place: &Place) -> Result<(), Refusal> {
    let access = &config.access;
    if place.is_dm && !access.dms {
        return Err(Refusal::not_allowed(
            "I don't run code in direct messages here; use `!run` in a server channel where I am",
        ));
    }
    if let Some(guild) = place.guild {
        if !access.guilds.is_empty() && !access.guilds.contains(&guild) {
            return Err(Refusal::not_allowed(
                "I don't run code in this server; the bot's operator can add it to `access.guilds`",
            ));
        }
    }
    if !place.is_dm && !access.channels.is_empty() {
        let allowed = place.channel.is_some_and(|c| access.channels.contains(&c));
        if !allowed {
            let list: Vec<String> = access.channels.iter().map(|c| format!("<#{c}>")).collect();
            return Err(Refusal::not_allowed(format!(
                "I don't run code in this channel; try {} (threads under those channels work too)",
                list.join(", ")
            )));
        }
    }
    Ok(())
}

/// The limits of a run for `tier`, with `--privileged` and requested limits applied.
pub fn grant(
    config: &Config,
    tier: &Tier,
    privileged: bool,
    requested: RequestedLimits,
) -> Result<Grant, Refusal> {
    let base_name = if privileged {
        if !tier.admin {
            let base = profile(config, &tier.profile)?;
            return Err(Refusal::not_allowed(format!(
                "`--privileged` is for admins only, and your tier is `{}`; without it you get {}",
                tier.name,
                describe(base)
            )));
        }
        tier.privileged_profile.as_deref().ok_or_else(|| {
            Refusal::not_allowed(format!(
                "`--privileged` is not set up for the `{}` tier (no privileged_profile); run without it",
                tier.name
            ))
        })?
    } else {
        tier.profile.as_str()
    };
    let base = profile(config, base_name)?;
    let max = if privileged {
        base
    } else {
        profile(config, tier.max_profile.as_deref().unwrap_or(&tier.profile))?
    };

    let mut limits = base.clone();
    if let Some(wall) = requested.wall_time {
        let cap = max.wall_time.as_duration();
        if wall > cap {
            return Err(Refusal::not_allowed(format!(
                "`--timeout={}` is more than the `{}` tier allows (at most {}); use `--timeout={}` or less",
                wall.as_secs_f64(),
                tier.name,
                fmt::duration(cap),
                cap.as_secs().max(1)
            )));
        }
        limits.wall_time = HumanDuration(wall);
        // CPU time follows the wall time: raised with it up to the maximum, lowered with it.
        let base_cpu = base.cpu_time.as_duration();
        limits.cpu_time = HumanDuration(if wall > base.wall_time.as_duration() {
            wall.min(max.cpu_time.as_duration()).max(base_cpu)
        } else {
            base_cpu.min(wall)
        });
    }
    if let Some(memory) = requested.memory {
        let cap = max.memory.bytes();
        if memory > cap {
            return Err(Refusal::not_allowed(format!(
                "`--memory={}` is more than the `{}` tier allows (at most {}); use `--memory={}` or less",
                fmt::bytes(memory).replace(' ', ""),
                tier.name,
                fmt::bytes(cap),
                fmt::bytes(cap).replace(' ', "")
            )));
        }
        if memory < MIN_MEMORY {
            return Err(Refusal::bad_request(format!(
                "`--memory` must be at least {}; most programs need 64 MiB or more",
                fmt::bytes(MIN_MEMORY)
            )));
        }
        limits.memory = coderunner_config::ByteSize(memory);
    }
    Ok(Grant {
        tier: tier.name.clone(),
        admin: tier.admin,
        privileged,
        profile: base_name.to_string(),
        limits,
    })
}

/// The grant of a run whose whole profile was chosen elsewhere (a bot forwarding to this node):
/// each limit is the lower of `wanted` and this tier's ceiling (its `max_profile`, or the
/// privileged profile for `--privileged`). Network comes from this tier's own profile only.
pub fn grant_within(
    config: &Config,
    tier: &Tier,
    privileged: bool,
    wanted: &Profile,
) -> Result<Grant, Refusal> {
    let base = grant(config, tier, privileged, RequestedLimits::default())?;
    let ceiling = if privileged {
        base.limits.clone()
    } else {
        profile(config, tier.max_profile.as_deref().unwrap_or(&tier.profile))?.clone()
    };
    if wanted.memory.bytes() < MIN_MEMORY {
        return Err(Refusal::bad_request(format!(
            "the profile's memory must be at least {}",
            fmt::bytes(MIN_MEMORY)
        )));
    }
    let mut limits = lower_each(wanted, &ceiling);
    limits.network = base.limits.network;
    Ok(Grant { limits, ..base })
}

/// Every limit of `a` and `b`, the lower of the two.
fn lower_each(a: &Profile, b: &Profile) -> Profile {
    use std::cmp::min;
    let c = &a.compile;
    let d = &b.compile;
    Profile {
        wall_time: min(a.wall_time, b.wall_time),
        cpu_time: min(a.cpu_time, b.cpu_time),
        memory: min(a.memory, b.memory),
        pids: min(a.pids, b.pids),
        output: min(a.output, b.output),
        file_size: min(a.file_size, b.file_size),
        workdir_size: min(a.workdir_size, b.workdir_size),
        tmp_size: min(a.tmp_size, b.tmp_size),
        shm_size: min(a.shm_size, b.shm_size),
        open_files: min(a.open_files, b.open_files),
        cpus: a.cpus.min(b.cpus),
        network: a.network && b.network,
        output_files: min(a.output_files, b.output_files),
        output_files_bytes: min(a.output_files_bytes, b.output_files_bytes),
        compile: coderunner_config::CompileLimits {
            wall_time: min(c.wall_time, d.wall_time),
            cpu_time: min(c.cpu_time, d.cpu_time),
            memory: min(c.memory, d.memory),
            pids: min(c.pids, d.pids),
            output: min(c.output, d.output),
        },
    }
}

fn profile<'c>(config: &'c Config, name: &str) -> Result<&'c Profile, Refusal> {
    config.profile(name).ok_or_else(|| {
        Refusal::not_allowed(format!(
            "the profile `{name}` is not configured; tell the bot's operator"
        ))
    })
}

/// "10 s, 256 MiB, no network".
pub fn describe(p: &Profile) -> String {
    format!(
        "{}, {}, {}",
        fmt::duration(p.wall_time.as_duration()),
        fmt::bytes(p.memory.bytes()),
        if p.network {
            "network on"
        } else {
            "no network"
        }
    )
}
