//! [`MachineLedger`]: a set of parties with keys and the accounts between them, each a
//! pair of real [`AccountMachine`]s exchanging signed frames in process — the ledger the
//! property tests and the benchmark net on (the interpreter's network is the other one).

use std::collections::BTreeMap;

use num_bigint::BigInt;

use super::{Ledger, Position, Transfer};
use crate::account::{AccountMachine, AccountTx, NoSubcontracts, TokenId};
use crate::crypto::{Address, SecretKey};

/// Parties, their keys, and the accounts between them (both sides of each).
#[derive(Clone, Default)]
pub struct MachineLedger {
    keys: BTreeMap<Address, SecretKey>,
    /// Keyed by (left, right); index 0 is the left's machine.
    accounts: BTreeMap<(Address, Address), [AccountMachine; 2]>,
    /// The input clock frames carry as their timestamp.
    pub time: u64,
}

fn ordered(a: Address, b: Address) -> (Address, Address) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

impl MachineLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a party that signs with `key`; returns its address.
    pub fn add_party(&mut self, key: SecretKey) -> Address {
        let address = key.address();
        self.keys.insert(address, key);
        address
    }

    /// Opens the account between two known parties.
    ///
    /// # Errors
    /// If a party is unknown, both are the same, or the account exists.
    pub fn open(&mut self, a: Address, b: Address) -> Result<(), String> {
        if a == b || !self.keys.contains_key(&a) || !self.keys.contains_key(&b) {
            return Err(format!("cannot open an account between {a} and {b}"));
        }
        let (left, right) = ordered(a, b);
        if self.accounts.contains_key(&(left, right)) {
            return Err(format!("{left} and {right} already have an account"));
        }
        let machines = [
            AccountMachine::new(left, right),
            AccountMachine::new(right, left),
        ];
        self.accounts.insert((left, right), machines);
        Ok(())
    }

    /// `by` proposes `tx` on its account with `peer`; the peer verifies and countersigns.
    /// All or nothing: on error the account is unchanged.
    ///
    /// # Errors
    /// No such account or key, or the tx was refused (capacity, RCPAN, ...).
    pub fn submit(&mut self, by: Address, peer: Address, tx: AccountTx) -> Result<(), String> {
        let key_pair = ordered(by, peer);
        let mut machines = self
            .accounts
            .get(&key_pair)
            .cloned()
            .ok_or_else(|| format!("{by} and {peer} have no account"))?;
        let (me, them) = if by == key_pair.0 { (0, 1) } else { (1, 0) };
        let key = |a: &Address| self.keys.get(a).ok_or(format!("no key for {a}"));
        let mut engine = NoSubcontracts;
        machines[me].enqueue(tx);
        let outcome = machines[me]
            .propose(key(&by)?, self.time, &mut engine)
            .map_err(|e| e.to_string())?;
        if let Some((_, e)) = outcome.rejected.first() {
            return Err(e.to_string());
        }
        let proposal = outcome.message.ok_or("nothing was proposed")?;
        let acks = machines[them]
            .receive(key(&peer)?, &proposal, &mut engine)
            .map_err(|e| e.to_string())?;
        for ack in &acks {
            machines[me]
                .receive(key(&by)?, ack, &mut engine)
                .map_err(|e| e.to_string())?;
        }
        self.accounts.insert(key_pair, machines);
        Ok(())
    }

    /// Every account's position in every token it has touched, from the left's copy.
    pub fn positions(&self) -> Vec<Position<Address>> {
        self.accounts
            .iter()
            .flat_map(|((left, right), machines)| {
                machines[0]
                    .state
                    .deltas
                    .iter()
                    .map(|(token, d)| Position::from_delta(*left, *right, *token, d))
            })
            .collect()
    }

    /// What `party` holds in `token` across its accounts: Δ where it is left, C − Δ where
    /// it is right (the same measure as the `entity-balance` builtin).
    pub fn balance(&self, party: Address, token: TokenId) -> BigInt {
        let mut total = BigInt::default();
        for ((left, right), machines) in &self.accounts {
            let d = machines[0].state.delta(token);
            if *left == party {
                total += d.delta();
            } else if *right == party {
                total += &d.collateral - d.delta();
            }
        }
        total
    }

    /// Do both sides of every account hold the same committed state?
    pub fn sides_agree(&self) -> bool {
        self.accounts
            .values()
            .all(|m| m[0].state.state_hash() == m[1].state.state_hash())
    }

    /// Both machines of the account between `a` and `b`, left's first.
    pub fn account(&self, a: Address, b: Address) -> Option<&[AccountMachine; 2]> {
        self.accounts.get(&ordered(a, b))
    }
}

impl Ledger for MachineLedger {
    type Party = Address;

    /// All or nothing by checking first: every payment is applied to copies of the
    /// accounts, which replace the originals only if all of them went through (a test
    /// tool's shortcut for what the entity network does with one hashlock).
    fn pay_cycle(&mut self, token: TokenId, transfers: &[Transfer<Address>]) -> Result<(), String> {
        let mut trial = self.clone();
        for t in transfers {
            let tx = AccountTx::Pay {
                token,
                amount: t.amount.clone(),
            };
            trial.submit(t.payer, t.payee, tx)?;
        }
        *self = trial;
        Ok(())
    }

    fn position(
        &self,
        a: &Address,
        b: &Address,
        token: TokenId,
    ) -> Result<(BigInt, BigInt), String> {
        let machines = self
            .accounts
            .get(&ordered(*a, *b))
            .ok_or_else(|| format!("{a} and {b} have no account"))?;
        let d = machines[0].state.delta(token);
        Ok((d.delta(), d.collateral))
    }
}
