package vcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The transport: each attempt has its own timeout, and a failure that never
// reached the node (refused connection, DNS, no answer in time) is retried a
// bounded number of times with a doubling delay. An answer from the node,
// even an error status, is never retried here. A node that is down costs at
// most attempts × timeout + delays, then a *NodeUnreachableError: never a hang.

const (
	defaultTimeout    = 10 * time.Second
	defaultRetries    = 2
	defaultRetryDelay = 200 * time.Millisecond
	maxAnswerBytes    = 64 << 20
)

type transport struct {
	http       *http.Client
	timeout    time.Duration
	retries    int
	retryDelay time.Duration
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

// do sends one request (body may be nil) and reads at most limit bytes of the answer.
func (t *transport) do(ctx context.Context, method, url string, body []byte, contentType string, limit int64) (*answer, error) {
	var header http.Header
	if contentType != "" {
		header = http.Header{"Content-Type": {contentType}}
	}
	return t.doWith(ctx, method, url, body, header, limit)
}

// doWith is do with request headers of the caller's (an Authorization, a Content-Type).
func (t *transport) doWith(ctx context.Context, method, url string, body []byte, header http.Header, limit int64) (*answer, error) {
	attempts := t.retries + 1
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			delay := t.retryDelay << uint(i-1)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s %s: %w", method, url, ctx.Err())
			case <-time.After(delay):
			}
		}
		a, err := t.once(ctx, method, url, body, header, limit)
		if err == nil {
			return a, nil
		}
		var answered *answeredError
		if errors.As(err, &answered) {
			return nil, answered.err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, url, ctx.Err())
		}
		last = err
	}
	return nil, &NodeUnreachableError{URL: url, Attempts: attempts, Err: last}
}

func (t *transport) once(ctx context.Context, method, url string, body []byte, header http.Header, limit int64) (*answer, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := t.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("no answer within %s", t.timeout)
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, &answeredError{fmt.Errorf("%s %s: the answer is over %d bytes", method, url, limit)}
	}
	return &answer{status: resp.StatusCode, body: data, header: resp.Header}, nil
}

// answeredError is a failure after the node answered: not retried.
type answeredError struct{ err error }

func (e *answeredError) Error() string { return e.err.Error() }
