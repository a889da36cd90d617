package vcoin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Job results: wait for a job to reach a final state (following new blocks
// over the node's /websocket, polling when that fails), then fetch its output
// from the artifact store with a sha256 check.

// WaitJobOptions tune WaitForJob.
type WaitJobOptions struct {
	// Timeout of the whole wait (default 2 min).
	Timeout time.Duration
	// Poll is the interval when polling (default 1 s) and the longest wait
	// between two reads when following blocks (10 × Poll).
	Poll time.Duration
	// States to wait for (default FinalJobStates).
	States []string
	// OnJob, when set, is called with the job after each read.
	OnJob func(*Job)
}

// WaitForJob waits until the job reaches one of o.States and returns it.
// The job is read again at each new block the node pushes over /websocket
// (subscribe tm.event='NewBlockHeader'); without the websocket
// (ClientOptions.NoWebsocket, or when it fails) it polls. Past the timeout
// the error matches ErrTimeout and names the job's state.
func (c *Client) WaitForJob(ctx context.Context, id uint64, o WaitJobOptions) (*Job, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if len(o.States) == 0 {
		o.States = FinalJobStates
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var job *Job
	read := func() (bool, error) {
		j, err := c.Job(ctx, id)
		if err != nil {
			return false, err
		}
		job = j
		if o.OnJob != nil {
			o.OnJob(j)
		}
		return contains(o.States, j.State), nil
	}
	timedOut := func(err error) error {
		if ctx.Err() == nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		state := "unknown"
		if job != nil {
			state = job.State
		}
		return &timeoutError{fmt.Sprintf("job %d is %s after %s (waiting for %s)", id, state, o.Timeout, strings.Join(o.States, " or "))}
	}
	done, err := read()
	if err != nil || done {
		return job, timedOut(err)
	}
	var blocks *blockStream
	if !c.noWS {
		blocks = c.newBlocks(ctx)
		defer blocks.close()
	}
	for {
		if blocks != nil && blocks.alive() {
			err = blocks.next(ctx, 10*o.Poll)
		} else {
			err = sleep(ctx, o.Poll)
		}
		if err == nil {
			done, err = read()
		}
		if err != nil {
			return nil, timedOut(err)
		}
		if done {
			return job, nil
		}
	}
}

// blockStream delivers new-block notifications; alive() turns false when the
// socket fails (the waiter then polls).
type blockStream struct {
	conn   *websocket.Conn
	events chan struct{}
	dead   chan struct{}
	cancel context.CancelFunc
}

// WebsocketURL is the node's /websocket URL (http -> ws, https -> wss).
func (c *Client) WebsocketURL() string {
	u := c.rpcURL
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + u[len("http://"):]
	}
	return u + "/websocket"
}

func (c *Client) newBlocks(parent context.Context) *blockStream {
	ctx, cancel := context.WithCancel(parent)
	b := &blockStream{events: make(chan struct{}, 1), dead: make(chan struct{}), cancel: cancel}
	go b.run(ctx, c.WebsocketURL(), c.t.timeout, c.t.http)
	return b
}

func (b *blockStream) run(ctx context.Context, url string, timeout time.Duration, hc *http.Client) {
	defer close(b.dead)
	dctx, dcancel := context.WithTimeout(ctx, timeout)
	conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: hc})
	dcancel()
	if err != nil {
		return
	}
	b.conn = conn
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)
	sub := `{"jsonrpc":"2.0","id":"vcoin-go-sdk-blocks","method":"subscribe","params":{"query":"tm.event='NewBlockHeader'"}}`
	if err := conn.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
		return
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Result *struct {
				Data json.RawMessage `json:"data"`
			} `json:"result"`
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		if len(m.Error) > 0 && string(m.Error) != "null" {
			return // refused (too many subscribers…): poll instead
		}
		if m.Result != nil && len(m.Result.Data) > 0 && string(m.Result.Data) != "null" {
			select {
			case b.events <- struct{}{}:
			default:
			}
		}
	}
}

func (b *blockStream) alive() bool {
	select {
	case <-b.dead:
		return false
	default:
		return true
	}
}

// next waits for a new block, at most d; it returns early (nil) when the socket dies.
func (b *blockStream) next(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.events:
	case <-b.dead:
	case <-t.C:
	}
	return nil
}

func (b *blockStream) close() { b.cancel(); <-b.dead }

// FetchArtifact downloads an artifact (GET /artifacts/{sha256} on the REST
// port) and checks that its bytes hash to its name; a missing artifact or a
// mismatch is an *ArtifactError. With a key, the request carries that
// account's get token (ArtifactToken): a blob that is not public (a job's input
// or output) is served only to an account allowed to read it; nil for a public one.
func (c *Client) FetchArtifact(ctx context.Context, sha string, k *Key) ([]byte, error) {
	if !sha256Hex.MatchString(sha) {
		return nil, inputErr(KindBadInput, "an artifact is named by its sha256 in 64 lower-case hex digits, got %q", short(sha))
	}
	if c.restURL == "" {
		return nil, inputErr(KindBadInput, "fetching artifacts needs the node's REST URL (ClientOptions.REST)")
	}
	url := c.restURL + "/artifacts/" + sha
	var h http.Header
	if k != nil {
		tok, err := ArtifactToken(k, ArtifactGet, sha, 0)
		if err != nil {
			return nil, err
		}
		h = http.Header{"Authorization": {ArtifactAuthScheme + " " + tok}}
	}
	a, err := c.t.doWith(ctx, http.MethodGet, url, nil, h, c.maxArtifact)
	if err != nil {
		return nil, err
	}
	if a.status == http.StatusNotFound {
		return nil, &ArtifactError{Msg: fmt.Sprintf("artifact %s is not in the node's store (%s)", sha, url)}
	}
	if a.status != http.StatusOK {
		return nil, artifactRefusal(url, a, k != nil)
	}
	sum := sha256.Sum256(a.body)
	if got := hex.EncodeToString(sum[:]); got != sha {
		return nil, &ArtifactError{Msg: fmt.Sprintf("artifact %s: the %d bytes served hash to %s; refusing them", sha, len(a.body), got)}
	}
	return a.body, nil
}

// JobOutput fetches a job's output (by its output_hash), hash-checked; k (the
// poster's, the worker's or an oracle's key) signs the read of an output that
// is not public, nil sends no token.
func (c *Client) JobOutput(ctx context.Context, job *Job, k *Key) ([]byte, error) {
	if job.OutputHash == "" {
		return nil, inputErr(KindBadInput, "job %s has no output yet (state %s)", job.ID, job.State)
	}
	return c.FetchArtifact(ctx, job.OutputHash, k)
}
