(define (build n) (let loop ((i 0) (acc '())) (if (= i n) (apply string-append (reverse acc)) (loop (+ i 1) (cons (number->string i) acc)))))
(define (repeat n) (let loop ((i 0) (len 0)) (if (= i n) len (loop (+ i 1) (string-length (build 100000))))))
(display (repeat 10))
(newline)
