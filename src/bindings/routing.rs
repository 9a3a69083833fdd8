//! Routing bindings: each entity's fee policy and gossip view (profiles built from its real
//! account capacities, spread along accounts as a last-write-wins CRDT), and route queries
//! over the graph an entity knows. Multi-hop payment itself is `stdlib/network.xln`.

use std::collections::BTreeMap;
use std::rc::Rc;

use num_bigint::BigInt;

use super::account::{entity_arg, map_of, network, EntityHandle};
use crate::account::{view, Side};
use crate::crypto::Address;
use crate::lang::builtins::{index_arg, type_error, value_error};
use crate::lang::diagnostics::{Code, LangError};
use crate::lang::eval::Interp;
use crate::lang::number::to_bigint;
use crate::lang::source::Span;
use crate::lang::value::{NativeObject, Primitive, Value};
use crate::routing::{
    find_routes, AdvertisedAccount, ChannelGraph, GossipState, MergeOutcome, Profile, Route,
};

type R = Result<Value, LangError>;

/// Gossip rounds `gossip-sync!` runs before giving up (a network of n entities needs < n).
const MAX_GOSSIP_ROUNDS: usize = 1_000;

/// Routing state kept beside the accounts: fee policies, each entity's gossip view, and
/// the logical clock that stamps profiles.
#[derive(Default)]
pub struct RoutingState {
    pub fees: BTreeMap<Address, (u128, u32)>,
    pub views: BTreeMap<Address, GossipState>,
    pub clock: u64,
}

fn routing(interp: &mut Interp) -> &mut RoutingState {
    let entry = interp
        .extensions
        .entry("routing")
        .or_insert_with(|| Box::new(RoutingState::default()) as Box<dyn std::any::Any>);
    if !entry.is::<RoutingState>() {
        *entry = Box::new(RoutingState::default());
    }
    entry
        .downcast_mut::<RoutingState>()
        .expect("routing state type checked above")
}

fn to_u128(n: &BigInt) -> u128 {
    u128::try_from(n).unwrap_or(if n.sign() == num_bigint::Sign::Minus {
        0
    } else {
        u128::MAX
    })
}

/// Every entity that is a party to some account, by address.
fn entities(interp: &mut Interp) -> BTreeMap<Address, Rc<EntityHandle>> {
    let mut out = BTreeMap::new();
    for acct in network(interp).accounts.values() {
        if let Ok(pair) = acct.0.try_borrow() {
            for e in &pair.entities {
                out.insert(e.address, e.clone());
            }
        }
    }
    out
}

/// The profile an entity would publish now: its fee policy and, for every account and
/// token, the capacities its own committed copy shows.
fn current_profile(interp: &mut Interp, who: &EntityHandle, timestamp: u64) -> Profile {
    let (fee_base, fee_ppm) = routing(interp)
        .fees
        .get(&who.address)
        .copied()
        .unwrap_or((0, 0));
    let mut accounts = Vec::new();
    for acct in network(interp).accounts.values() {
        let Ok(pair) = acct.0.try_borrow() else {
            continue;
        };
        let (me, side) = if pair.entities[0].address == who.address {
            (0, Side::Left)
        } else if pair.entities[1].address == who.address {
            (1, Side::Right)
        } else {
            continue;
        };
        let peer = pair.entities[1 - me].address;
        for (token, delta) in &pair.machines[me].state.deltas {
            let v = view(delta, side);
            accounts.push(AdvertisedAccount {
                peer: peer.0,
                token: *token,
                capacity_out: to_u128(&v.out_capacity),
                capacity_in: to_u128(&v.in_capacity),
            });
        }
    }
    accounts.sort_by_key(|a| (a.peer, a.token));
    Profile {
        entity: who.address.0,
        timestamp,
        capabilities: vec!["route".into()],
        fee_base,
        fee_ppm,
        accounts,
    }
}

/// One gossip round: every entity publishes its current profile into its own view, then
/// every account's two parties exchange views. Returns how many profiles changed anywhere.
pub fn gossip_round(interp: &mut Interp) -> usize {
    let all = entities(interp);
    let mut changes = 0;
    let stamp = {
        let r = routing(interp);
        r.clock += 1;
        r.clock
    };
    for e in all.values() {
        let profile = current_profile(interp, e, stamp);
        let view = routing(interp).views.entry(e.address).or_default();
        if view.get(&e.address.0).is_none_or(|old| {
            old.accounts != profile.accounts
                || old.fee_base != profile.fee_base
                || old.fee_ppm != profile.fee_ppm
        }) {
            view.merge(profile);
            changes += 1;
        }
    }
    let links: Vec<(Address, Address)> = network(interp).accounts.keys().copied().collect();
    for (a, b) in links {
        let r = routing(interp);
        let va = r.views.get(&a).cloned().unwrap_or_default();
        let vb = r.views.get(&b).cloned().unwrap_or_default();
        for (target, source) in [(a, &vb), (b, &va)] {
            let view = r.views.entry(target).or_default();
            for p in source.profiles() {
                if view.merge(p.clone()) != MergeOutcome::Kept {
                    changes += 1;
                }
            }
        }
    }
    changes
}

fn set_fee_policy(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "set-fee-policy!")?;
    let base = to_bigint(&a[1])
        .filter(|b| b.sign() != num_bigint::Sign::Minus)
        .ok_or_else(|| type_error("set-fee-policy!", 1, "a non-negative base fee", &a[1]))?;
    let ppm = index_arg(a, 2, "set-fee-policy!")?;
    let ppm = u32::try_from(ppm)
        .map_err(|_| value_error("set-fee-policy!", "ppm must fit in 32 bits"))?;
    routing(interp)
        .fees
        .insert(e.address, (to_u128(&base), ppm));
    Ok(Value::Void)
}
fn round(interp: &mut Interp, _: &[Value], _: Span) -> R {
    Ok(Value::Int(gossip_round(interp) as i64))
}
fn sync(interp: &mut Interp, _: &[Value], _: Span) -> R {
    for rounds in 1..=MAX_GOSSIP_ROUNDS {
        if gossip_round(interp) == 0 {
            return Ok(Value::Int(rounds as i64));
        }
    }
    Err(value_error(
        "gossip-sync!",
        format!("gossip did not settle in {MAX_GOSSIP_ROUNDS} rounds"),
    ))
}
fn known(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "gossip-known")?;
    let all = entities(interp);
    let view = routing(interp)
        .views
        .get(&e.address)
        .cloned()
        .unwrap_or_default();
    Ok(Value::list(
        view.profiles()
            .filter_map(|p| all.get(&Address(p.entity)).map(|e| Value::string(&e.name)))
            .collect::<Vec<_>>(),
    ))
}
fn profile_value(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let e = entity_arg(a, 0, "gossip-profile")?;
    let all = entities(interp);
    let view = routing(interp)
        .views
        .get(&e.address)
        .cloned()
        .unwrap_or_default();
    let Some(p) = view.get(&e.address.0) else {
        return Ok(Value::Bool(false));
    };
    let name = |addr: &[u8; 20]| {
        all.get(&Address(*addr))
            .map(|e| Value::string(&e.name))
            .unwrap_or(Value::Bool(false))
    };
    let accounts = p
        .accounts
        .iter()
        .map(|x| {
            map_of(vec![
                ("peer", name(&x.peer)),
                ("token", Value::Int(x.token as i64)),
                ("out", Value::from_bigint(x.capacity_out.into())),
                ("in", Value::from_bigint(x.capacity_in.into())),
            ])
        })
        .collect::<Vec<_>>();
    Ok(map_of(vec![
        ("entity", name(&p.entity)),
        ("timestamp", Value::Int(p.timestamp as i64)),
        ("fee-base", Value::from_bigint(p.fee_base.into())),
        ("fee-ppm", Value::Int(p.fee_ppm as i64)),
        ("accounts", Value::list(accounts)),
    ]))
}

fn route_value(
    route: &Route,
    graph: &ChannelGraph,
    all: &BTreeMap<Address, Rc<EntityHandle>>,
) -> Value {
    let entity = |node| {
        graph
            .node_key(node)
            .and_then(|k| <[u8; 20]>::try_from(k).ok())
            .and_then(|k| all.get(&Address(k)))
            .map(|e| Value::Native(e.clone() as Rc<dyn NativeObject>))
            .unwrap_or(Value::Bool(false))
    };
    let hops = route
        .hops
        .iter()
        .map(|h| {
            map_of(vec![
                ("from", entity(h.from)),
                ("to", entity(h.to)),
                ("amount", Value::from_bigint(h.amount_to_forward.into())),
                ("fee", Value::from_bigint(h.fee.into())),
            ])
        })
        .collect::<Vec<_>>();
    map_of(vec![
        ("hops", Value::list(hops)),
        ("total-fee", Value::from_bigint(route.total_fee.into())),
        ("amount-sent", Value::from_bigint(route.amount_sent.into())),
        ("probability", Value::Float(route.success_probability)),
    ])
}

/// Up to `n` routes from `from` to `to` over the graph `from` knows through gossip.
fn query(interp: &mut Interp, a: &[Value], n: usize, who: &str) -> Result<Vec<Value>, LangError> {
    let from = entity_arg(a, 0, who)?;
    let to = entity_arg(a, 1, who)?;
    let amount = to_bigint(&a[2])
        .filter(|x| x.sign() == num_bigint::Sign::Plus)
        .ok_or_else(|| type_error(who, 2, "a positive amount", &a[2]))?;
    let amount = u128::try_from(&amount)
        .map_err(|_| value_error(who, "the amount is too large to route"))?;
    let token = index_arg(a, 3, who)? as u64;
    let all = entities(interp);
    let view = routing(interp)
        .views
        .get(&from.address)
        .cloned()
        .unwrap_or_default();
    let graph = ChannelGraph::from_gossip(&view, token);
    let node = |e: &EntityHandle| {
        graph.node_by_key(&e.address.0).ok_or_else(|| {
            value_error(
                who,
                format!(
                    "{} does not know {} (run (gossip-sync!) first)",
                    from.name, e.name
                ),
            )
        })
    };
    let (src, dst) = (node(&from)?, node(&to)?);
    let routes = find_routes(&graph, src, dst, amount, n)
        .map_err(|e| LangError::new(Code::Value, format!("{who}: {e}")))?;
    Ok(routes
        .iter()
        .map(|r| route_value(r, &graph, &all))
        .collect())
}
fn route(interp: &mut Interp, a: &[Value], _: Span) -> R {
    query(interp, a, 1, "route")?
        .into_iter()
        .next()
        .ok_or_else(|| value_error("route", "no route"))
}
fn routes(interp: &mut Interp, a: &[Value], _: Span) -> R {
    let n = index_arg(a, 4, "routes")?.clamp(1, 64);
    Ok(Value::list(query(interp, a, n, "routes")?))
}

pub static PRIMITIVES: &[Primitive] = crate::primitives![
    "set-fee-policy!", 3, Some(3), set_fee_policy, "The fee an entity charges to forward: base + ceil(amount x ppm / 1,000,000).", "(set-fee-policy! hub 1 1000)";
    "gossip-round!", 0, Some(0), round, "Every entity publishes its profile; every account's parties exchange what they know. Returns the number of changes.", "(gossip-round!) => 6";
    "gossip-sync!", 0, Some(0), sync, "Gossip rounds until nothing changes; returns the rounds taken.", "(gossip-sync!) => 3";
    "gossip-known", 1, Some(1), known, "Names of the entities whose profiles this entity has.", "(gossip-known alice) => (\"alice\" \"hub\")";
    "gossip-profile", 1, Some(1), profile_value, "The entity's own published profile (fees, accounts and capacities), or #f.", "(hash-ref (gossip-profile hub) #:fee-ppm) => 1000";
    "route", 4, Some(4), route, "(route from to amount token): the cheapest route over what `from` knows, as {#:hops #:total-fee #:amount-sent #:probability}.", "(hash-ref (route alice carol 100 1) #:total-fee)";
    "routes", 5, Some(5), routes, "(routes from to amount token n): up to n routes, cheapest first (Yen's algorithm).", "(length (routes alice carol 100 1 3))";
];
