package main

import (
	"context"
	"errors"
	"io"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tollgate-dev/tollgate/awslambda"
)

// runLambda serves the same handler as run, as an AWS Lambda function (API Gateway REST or
// HTTP API, function URL or ALB; see deploy/aws). Before each invocation returns, its usage
// events are written to the spool under DATA_DIR (/tmp/delivery by default; replayed at the
// next cold start if this sandbox never thaws) and its spans and metrics are exported. On
// the SIGTERM Lambda sends at spin-down the meter drains the rest.
func runLambda(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	env := getenv
	getenv = func(k string) string {
		if v := env(k); v != "" || k != "DATA_DIR" {
			return v
		}
		return "/tmp/delivery" // the only writable path on Lambda
	}
	_, a, err := start(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	fn := awslambda.New(a.handler, awslambda.Config{
		AfterInvoke: func(ctx context.Context) error {
			return errors.Join(a.meter.Flush(ctx), a.obs.ForceFlush(ctx))
		},
		Logger: a.obs.Logger(),
	})
	lambda.StartWithOptions(fn.Invoke, lambda.WithContext(ctx), lambda.WithEnableSIGTERM(a.close))
	return nil
}
