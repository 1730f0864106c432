//! The warm pool's report for `doctor` and logs: what is ready, and what it costs in memory.

use super::{memory_of, PoolReport, SlotMemory, WarmPool, ZygoteReport, STARTING_LANGUAGES};

impl WarmPool {
    pub(crate) async fn report(&self) -> PoolReport {
        let st = self.lock();
        let mut ready: Vec<(String, usize)> = Vec::new();
        let mut slot_pids = Vec::new();
        let mut by_language: Vec<(String, Vec<i32>, u64)> = Vec::new();
        for s in &st.shapes {
            let slots = st.ready.get(&s.key).map_or(&[][..], Vec::as_slice);
            for slot in slots {
                let pids = slot.pids();
                match by_language.iter_mut().find(|(l, _, _)| *l == s.language) {
                    Some((_, p, n)) => {
                        p.extend(&pids);
                        *n += 1;
                    }
                    None => by_language.push((s.language.clone(), pids.clone(), 1)),
                }
                slot_pids.extend(pids);
            }
            match ready.iter_mut().find(|(l, _)| *l == s.language) {
                Some((_, n)) => *n += slots.len(),
                None => ready.push((s.language.clone(), slots.len())),
            }
        }
        let zygote = st.zygote.as_ref().map(|z| {
            let (rss, pss, _) = memory_of(&z.pids());
            ZygoteReport {
                preload: self
                    .python
                    .as_ref()
                    .map(|(l, _)| l.preload.clone())
                    .unwrap_or_default(),
                preload_error: z.preload_error.clone(),
                modules: z.modules.len(),
                forks: z.forks(),
                age_secs: z.age().as_secs(),
                rss_bytes: rss,
                pss_bytes: pss,
                pid: z.pid,
            }
        });
        let (slots_rss, slots_pss, slots_uss) = memory_of(&slot_pids);
        let n_slots = ready.iter().map(|(_, n)| *n as u64).sum::<u64>().max(1);
        let slot_memory = by_language
            .into_iter()
            .map(|(language, pids, n)| {
                let (rss, pss, uss) = memory_of(&pids);
                SlotMemory {
                    language,
                    rss_bytes: rss / n,
                    pss_bytes: pss / n,
                    private_bytes: uss / n,
                }
            })
            .collect();
        PoolReport {
            slot_memory,
            slot_rss_bytes: slots_rss / n_slots,
            slot_pss_bytes: slots_pss / n_slots,
            slot_private_bytes: slots_uss / n_slots,
            starting_kinds: STARTING_LANGUAGES
                .iter()
                .filter(|l| {
                    self.inner
                        .config
                        .languages
                        .get(**l)
                        .is_some_and(|s| s.compile.is_none())
                })
                .map(|l| l.to_string())
                .collect(),
            state: st.status.clone(),
            slots_per_kind: self.configured,
            ready,
            warm_runs: st.warm_runs,
            cold_runs: st.cold_runs,
            rss_bytes: slots_rss + zygote.as_ref().map_or(0, |z| z.rss_bytes),
            pss_bytes: slots_pss + zygote.as_ref().map_or(0, |z| z.pss_bytes),
            zygote,
        }
    }
}
