module github.com/tollgate-dev/tollgate/benchmarks

go 1.26.0

replace github.com/tollgate-dev/tollgate => ../
