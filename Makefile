# Builds the delivery example as an AWS Lambda bootstrap binary (provided.al2023). Used by
# `sam build` (deploy/aws/template.yaml) and by hand: make build-DeliveryFunction
# ARTIFACTS_DIR=out GOARCH=arm64
GOARCH ?= arm64
ARTIFACTS_DIR ?= out

build-DeliveryFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go -C examples build -trimpath -tags lambda.norpc -ldflags="-s -w" -o $(abspath $(ARTIFACTS_DIR))/bootstrap ./delivery
