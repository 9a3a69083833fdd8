//! Documentation of the special forms (builtins carry their own docs in their tables).
//! `lang/REFERENCE.md`'s generated section is built from these and checked by a test.

pub struct FormDoc {
    pub name: &'static str,
    pub syntax: &'static str,
    pub doc: &'static str,
    pub example: &'static str,
}

macro_rules! forms {
    ($( $name:literal, $syntax:literal, $doc:literal, $example:literal; )*) => {
        &[ $( FormDoc { name: $name, syntax: $syntax, doc: $doc, example: $example }, )* ]
    };
}

pub static SPECIAL_FORM_DOCS: &[FormDoc] = forms![
    "quote", "(quote d) / 'd", "The datum itself, unevaluated.", "'(a b) => (a b)";
    "quasiquote", "`(a ,b ,@c)", "A template: , inserts a value, ,@ splices a list.", "`(1 ,(+ 1 1) ,@(list 3 4)) => (1 2 3 4)";
    "unquote", ",e", "Inside quasiquote: insert the value of e.", "`(x ,(* 2 3)) => (x 6)";
    "unquote-splicing", ",@e", "Inside quasiquote: splice the list e.", "`(1 ,@'(2 3)) => (1 2 3)";
    "if", "(if test then [else])", "Evaluates then if test is not #f, else the else branch.", "(if (> 2 1) 'yes 'no) => yes";
    "define", "(define name value) / (define (f arg ...) body ...)", "Defines a variable or procedure (top level or start of a body).", "(define (sq x) (* x x))";
    "set!", "(set! name value)", "Assigns an existing variable.", "(set! counter (+ counter 1))";
    "lambda", "(lambda (a [b default] #:key k . rest) body ...)", "A procedure; optional, keyword and rest parameters.", "((lambda (x [y 10]) (+ x y)) 1) => 11";
    "λ", "(λ (x) body ...)", "Same as lambda.", "((λ (x) (* x x)) 3) => 9";
    "case-lambda", "(case-lambda [formals body ...] ...)", "A procedure that dispatches on the number of arguments.", "((case-lambda [(x) x] [(x y) (+ x y)]) 1 2) => 3";
    "begin", "(begin e ...)", "Evaluates in order, returns the last value.", "(begin 1 2) => 2";
    "let", "(let ([x 1] ...) body ...) / (let loop ([i 0]) body ...)", "Local bindings; the named form is a loop (proper tail calls).", "(let loop ([i 0]) (if (= i 3) i (loop (+ i 1)))) => 3";
    "let*", "(let* ([x 1] [y x]) body ...)", "Bindings that see the earlier ones.", "(let* ([x 1] [y (+ x 1)]) y) => 2";
    "letrec", "(letrec ([f (lambda ...)] ...) body ...)", "Mutually recursive bindings.", "(letrec ([ev? (lambda (n) (or (= n 0) (od? (- n 1))))] [od? (lambda (n) (and (> n 0) (ev? (- n 1))))]) (ev? 10)) => #t";
    "letrec*", "(letrec* ([a 1] [b a]) body ...)", "Same as letrec, initialised in order.", "(letrec* ([a 1] [b (+ a 1)]) b) => 2";
    "and", "(and e ...)", "The first #f, or the last value.", "(and 1 2) => 2";
    "or", "(or e ...)", "The first true value, or #f.", "(or #f 3) => 3";
    "when", "(when test body ...)", "Runs the body if test is true.", "(when #t 'ran) => ran";
    "unless", "(unless test body ...)", "Runs the body if test is #f.", "(unless #f 'ran) => ran";
    "cond", "(cond [test body ...] [test => f] [else body ...])", "The first clause whose test is true.", "(cond [(= 1 2) 'a] [else 'b]) => b";
    "case", "(case key [(d ...) body ...] [else body ...])", "Dispatch on eqv? against literal data.", "(case 3 [(1 2) 'low] [(3 4) 'mid] [else 'high]) => mid";
    "do", "(do ([var init step] ...) (test result ...) body ...)", "An iteration loop.", "(do ([i 0 (+ i 1)] [s 0 (+ s i)]) ((= i 4) s)) => 6";
    "define-syntax", "(define-syntax name (syntax-rules (literal ...) [pattern template] ...))", "Defines a pattern macro (with ..., literals, and renamed binders).", "(define-syntax swap! (syntax-rules () [(_ a b) (let ([t a]) (set! a b) (set! b t))]))";
    "define-syntax-rule", "(define-syntax-rule (name arg ...) template)", "A single-rule macro.", "(define-syntax-rule (unless2 c e) (if c (void) e))";
    "let-syntax", "(let-syntax ([name (syntax-rules ...)] ...) body ...)", "Macros visible only in the body.", "(let-syntax ([twice (syntax-rules () [(_ e) (begin e e)])]) (twice 1)) => 1";
    "struct", "(struct name (field ...))", "An immutable struct: name, name?, name-field accessors.", "(struct point (x y)) (point-x (point 1 2)) => 1";
    "struct-copy", "(struct-copy name instance [field value] ...)", "A copy with some fields replaced (functional update).", "(struct-copy point (point 1 2) [x 5]) => #s(point 5 2)";
    "define-record-type", "(define-record-type <name> (make-name field ...) name? (field accessor) ...)", "R7RS records (immutable).", "(define-record-type <pt> (make-pt x) pt? (x pt-x))";
    "match", "(match e [pattern body ...] [pattern #:when guard body ...] ...)", "Pattern matching: literals, _, vars, (list p ... ), (cons a d), [p ...], {k p}, (struct-name p ...), (? pred p), (and p ...), (or p ...), (not p), 'datum.", "(match '(1 2) [(list a b) (+ a b)]) => 3";
    "guard", "(guard (e [test body ...] ... [else ...]) body ...)", "R7RS exception handling; unmatched conditions are re-raised.", "(guard (e [(string? e) e]) (raise \"oops\")) => \"oops\"";
    "with-handlers", "(with-handlers ([pred handler] ...) body ...)", "Racket-style handlers: the first predicate that accepts the raised value handles it.", "(with-handlers ([error? error-object-message]) (error \"bad\")) => \"bad\"";
    "test", "(test expected expr) / (test \"name\" expected expr)", "Counts a pass if (equal? expected expr), else prints the failure with its location.", "(test 4 (+ 2 2))";
    "delay", "(delay expr)", "A promise that evaluates expr the first time it is forced.", "(force (delay (+ 1 2))) => 3";
    "delay-force", "(delay-force promise-expr)", "A promise whose value is another promise's (iterative forcing, constant space).", "(force (delay-force (delay 5))) => 5";
    "parameterize", "(parameterize ([param value] ...) body ...)", "Runs the body with parameters rebound (values go through each converter).", "(let ([p (make-parameter 1)]) (parameterize ([p 2]) (p))) => 2";
    "letrec-syntax", "(letrec-syntax ([name (syntax-rules ...)] ...) body ...)", "Local macros visible in the body and in each other.", "(letrec-syntax ([my-or (syntax-rules () [(_) #f] [(_ e) e])]) (my-or 3)) => 3";
    "syntax-error", "(syntax-error \"message\" form ...)", "In a macro template: expansion fails with E018 and the message.", "(syntax-error \"bad use\" x)";
    "cond-expand", "(cond-expand [feature-requirement body ...] ... [else body ...])", "Keeps the first clause whose requirement holds (features, (library name), and, or, not).", "(cond-expand [r7rs 'yes] [else 'no]) => yes";
    "include", "(include \"file.xln\" ...)", "The forms of the files, read where the include is (refused in the sandbox).", "(include \"helpers.xln\")";
    "include-ci", "(include-ci \"file.xln\" ...)", "Same as include, reading the files case-folded.", "(include-ci \"helpers.xln\")";
    "test-error", "(test-error CODE expr)", "Passes only if evaluating expr raises an error with that code (E007 for raise and error in user code); the uncoded (test-error expr) is deprecated and fails on an unbound variable.", "(test-error E004 (car '()))";
    "assert", "(assert expr [message])", "Raises E008 showing the expression if it is #f.", "(assert (> 2 1))";
    "time", "(time expr)", "Evaluates expr and prints how long it took.", "(time (fib 20))";
    "require", "(require name-or-\"file.xln\" ...)", "Loads a stdlib module or a file once and imports what it provides.", "(require \"util.xln\")";
    "provide", "(provide name ...) / (provide (all-defined-out))", "Names this module exports (default: everything it defines).", "(provide pay!)";
    "let-values", "(let-values ([(a b) expr] ...) body ...)", "Binds multiple values.", "(let-values ([(q r) (values 7 1)]) (+ q r)) => 8";
    "let*-values", "(let*-values ([(a b) expr] ...) body ...)", "Sequential let-values.", "(let*-values ([(a) (values 1)] [(b) (values a)]) b) => 1";
    "define-values", "(define-values (a b) expr)", "Defines several variables from multiple values.", "(define-values (q r) (values 7 1))";
    "receive", "(receive formals expr body ...)", "SRFI 8: binds the values of expr.", "(receive (a . rest) (values 1 2 3) rest) => (2 3)";
];

pub fn special_form_doc(name: &str) -> Option<&'static FormDoc> {
    SPECIAL_FORM_DOCS.iter().find(|d| d.name == name)
}
