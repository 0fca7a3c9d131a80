//! Collectives over scale-up (NVLink/UALink/ICI/Ethernet scale-up) and scale-out links.
//!
//! Ring/bandwidth-optimal algorithms: an all-reduce of `S` bytes over `n` ranks moves
//! `2(n−1)/n · S` per rank, all-gather and reduce-scatter `(n−1)/n · S` (S = the full,
//! gathered size), all-to-all `(n−1)/n · S` (S = what one rank sends in total). Each also pays
//! a latency per algorithm step. Link efficiency (`NetParams::link_eff`) turns the datasheet
//! rate into achieved bus bandwidth.

use crate::{Bound, Hardware, OpCost};

/// Which collective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collective {
    /// Sum across ranks, result everywhere.
    AllReduce,
    /// Concatenate across ranks.
    AllGather,
    /// Sum and scatter.
    ReduceScatter,
    /// Personalized exchange (MoE dispatch/combine).
    AllToAll,
    /// Point-to-point (pipeline stage boundary, KV transfer).
    SendRecv,
}

/// Which links the ranks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Inside the scale-up domain.
    ScaleUp,
    /// Across domains.
    ScaleOut,
}

/// Cost of a collective of `bytes` (see module docs for what `bytes` means per kind) over
/// `ranks` chips.
pub fn collective(hw: &Hardware, kind: Collective, bytes: f64, ranks: u32, link: Link) -> OpCost {
    if ranks <= 1 || bytes <= 0.0 {
        return OpCost::zero();
    }
    let n = ranks as f64;
    let (bw, lat) = match link {
        Link::ScaleUp => (hw.scaleup_bytes_per_s, hw.scaleup_latency_s),
        Link::ScaleOut => (hw.scaleout_bytes_per_s, hw.scaleout_latency_s),
    };
    let bw = bw * hw.params.net.link_eff;
    let (moved, steps) = match kind {
        Collective::AllReduce => (2.0 * (n - 1.0) / n * bytes, 2.0 * (n - 1.0).log2().ceil().max(1.0)),
        Collective::AllGather | Collective::ReduceScatter => ((n - 1.0) / n * bytes, (n - 1.0).log2().ceil().max(1.0)),
        Collective::AllToAll => ((n - 1.0) / n * bytes, 1.0),
        Collective::SendRecv => (bytes, 1.0),
    };
    let time = steps * lat + moved / bw;
    // Network time: the chip mostly waits; count idle-plus-memory activity for the copy.
    let power = hw.idle_w + (hw.tdp_w - hw.idle_w) * 0.2;
    OpCost { time_s: time, flops: 0.0, bytes: moved, energy_j: power * time, bound: Bound::Network }
}

/// Link a group of `ranks` consecutive chips uses: scale-up if it fits in one domain.
pub fn link_for(hw: &Hardware, ranks: u32) -> Link {
    if ranks <= hw.scaleup_domain { Link::ScaleUp } else { Link::ScaleOut }
}
