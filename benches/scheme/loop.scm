(define (count-to n) (let loop ((i 0)) (if (< i n) (loop (+ i 1)) i)))
(display (count-to 10000000))
(newline)
