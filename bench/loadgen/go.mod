module chaperone.dev/bench/loadgen

go 1.22
