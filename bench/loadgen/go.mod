module gotpl.invalid/bench/loadgen

go 1.26
