//! Random multi-hop payments over random chains of accounts: each payment either settles
//! exactly (receiver +amount, every intermediary +its fee, sender −(amount + fees)) or
//! fails with every balance unchanged — and in both cases no allowance is left held.

use proptest::prelude::*;
use xln::lang::{Interp, Limits, Output};

fn run(program: &str) -> Result<String, String> {
    let program = program.to_string();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let limits = Limits {
                stack_bytes: 200 << 20,
                ..Limits::default()
            };
            let mut interp = Interp::new(limits, Output::captured());
            interp
                .eval_source("<multihop-prop>", &program)
                .map(|v| v.to_string())
                .map_err(|e| e.render(false))
        })
        .expect("spawn")
        .join()
        .expect("interpreter thread")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn payments_settle_exactly_or_change_nothing(
        limits in proptest::collection::vec(50u64..400, 2..5),
        fees in proptest::collection::vec((0u64..5, 0u64..20_000), 5),
        amounts in proptest::collection::vec(1u64..300, 1..4),
        drain in proptest::option::of(0usize..4),
    ) {
        let hops = limits.len();
        let names: Vec<String> = (0..=hops).map(|i| format!("n{i}")).collect();
        let mut p = String::from("(require network)\n");
        for n in &names {
            p += &format!("(define {n} (make-entity \"{n}\"))\n");
        }
        for (i, limit) in limits.iter().enumerate() {
            let (a, b) = (&names[i], &names[i + 1]);
            p += &format!("(open-account {a} {b}) (set-credit! {b} {a} 1 {limit})\n");
        }
        for (i, (base, ppm)) in fees.iter().enumerate().take(hops + 1) {
            p += &format!("(set-fee-policy! {} {base} {ppm})\n", names[i]);
        }
        p += &format!("(define chain (list {}))\n", names.join(" "));
        p += r#"
(gossip-sync!)
(define (balance who) (entity-balance who 1))
(define (held)
  (foldl (lambda (acct sum)
           (let ([d (hash-ref-in (account-state acct) (list #:deltas 1) {})])
             (+ sum (hash-ref d #:left-allowance 0) (hash-ref d #:right-allowance 0))))
         0 (accounts)))
(define sender (first chain))
(define receiver (last chain))
(define (check-payment amount)
  (let* ([before (map balance chain)]
         [r (guard (e [#t #f]) (route sender receiver amount 1))]
         [paid (and r (guard (e [#t #f]) (pay! sender receiver amount 1) #t))]
         [after (map balance chain)])
    (assert (zero? (held)) "an allowance was left held")
    (if paid
        (let ([fees (map (lambda (h) (hash-ref h #:fee)) (hash-ref r #:hops))])
          ;; hop i's fee is kept by hop i's sender (0 for the payer itself)
          (assert (= (- (last after) (last before)) amount) "receiver got the exact amount")
          (assert (= (- (first after) (first before)) (- (hash-ref r #:amount-sent))) "sender paid amount + fees")
          (for-each (lambda (node fee b a) (assert (= (- a b) fee) "intermediary kept its fee"))
                    (cdr (reverse (cdr (reverse chain)))) (cdr fees)
                    (cdr (reverse (cdr (reverse before)))) (cdr (reverse (cdr (reverse after))))))
        (assert (equal? before after) "a failed payment moved value"))
    paid))
"#;
        if let Some(d) = drain {
            // Make gossip stale: use up part of one hop's capacity after gossip spread.
            let d = d % hops;
            p += &format!("(guard (e [#t #f]) (pay-direct! {} {} {} 1))\n", names[d], names[d + 1], limits[d] / 2);
        }
        let calls: Vec<String> = amounts.iter().map(|a| format!("(check-payment {a})")).collect();
        p += &format!("(list {})\n", calls.join(" "));
        let result = run(&p);
        // XLN_SHOW=1 prints each case's outcomes, to see that both branches are exercised.
        if std::env::var_os("XLN_SHOW").is_some() { println!("RESULT {:?}", result.as_ref().ok()); }
        prop_assert!(result.is_ok(), "program failed:\n{}\n{}", result.err().unwrap_or_default(), p);
    }
}
