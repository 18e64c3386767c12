module github.com/tollgate-dev/tollgate/examples

go 1.26.0

require github.com/danielgtaylor/huma/v2 v2.37.2

require (
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/tollgate-dev/tollgate => ../
