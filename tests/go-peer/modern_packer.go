// modern_packer.go — a TEST PEER, not product code.
//
// It plays the client side of MODERN Packer (1.12+, packer-plugin-sdk v0.6.x) against an
// amiforge plugin binary, using the real HashiCorp Go libraries Debian packages
// (github.com/hashicorp/yamux, github.com/ugorji/go/codec) and Go's net/rpc, so that what the
// Rust plugin sends is decoded by the same code Packer uses. Written from the protocol notes
// (docs/protocol.md); no upstream code was copied. Which upstream behaviour each
// part imitates:
//
//   - describe / start argv, environment, and the `--protobuf` flag placed between the kind and
//     the component name: packer v1.12+ packer/plugin.go (DiscoverMultiPlugin) and
//     packer-plugin-sdk plugin/set.go (SetDescription).
//   - handshake line parsing (SplitN 4 parts, major "5", minor compared as a string, unix/tcp):
//     packer v1.12+ packer/plugin_client.go (PluginClient.Start).
//   - yamux client role, 4-byte little-endian mux-broker ids and their ack, NextId starting at 1:
//     packer-plugin-sdk rpc/client.go, rpc/mux_broker.go.
//   - net/rpc over codec.GoRpc with MsgpackHandle{WriteExt: true}: packer-plugin-sdk rpc/client.go
//     and rpc/server.go.
//   - Provisioner.ConfigSpec/Prepare/Provision/Cancel, PostProcessor.ConfigSpec/Configure/
//     PostProcess/Cancel, and the Artifact, Ui and Communicator services served by Packer:
//     packer-plugin-sdk rpc/provisioner.go, rpc/post_processor.go, rpc/artifact.go, rpc/ui.go,
//     rpc/communicator.go (exit status as gob CommandFinished).
//   - HCL2 Configs ([packer vars map, cty JSON as []byte, override]): packer v1.12+
//     hcl2template/types.hcl_provisioner.go / types.hcl_post-processor.go and
//     packer-plugin-sdk rpc/cty_encode.go.
//   - ConfigSpec protobuf schema (Spec/Object/Attr/Block/BlockList/CtyType): packer-plugin-sdk
//     rpc/hcl_spec.proto (decoded here by a minimal hand-written wire walker); gob form:
//     packer-plugin-sdk rpc/common.go (hcldec.ObjectSpec via encoding/gob).
//
// Usage: modern_packer PLUGIN_PATH   (build with tests/go-peer/run.sh)
// Prints one `ok: ...` / `FAIL: ...` line per check, then `ALL OK` and exit 0 if all passed.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/ugorji/go/codec"
)

const (
	cookieKey      = "PACKER_PLUGIN_MAGIC_COOKIE"
	cookieValue    = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
	checkTimeout   = 20 * time.Second
	brokerTimeout  = 5 * time.Second // mux_broker.go accept window
	globalDeadline = 5 * time.Minute
	secretVar      = "s3cret-value"  // packer_sensitive_variables entry
	secretGen      = "gen-pass-4321" // GeneratedData Password
	inputID        = "us-east-1:ami-0123,us-west-2:ami-0456"
	wrapNote       = "built by the go peer"
)

// ---------------------------------------------------------------------------------------------
// check bookkeeping

var (
	failures int
	checks   int
)

// check runs f with a timeout and prints one line. f returns a detail for the ok line.
func check(name string, f func() (string, error)) bool {
	checks++
	done := make(chan error, 1)
	var detail string
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		d, err := f()
		detail = d
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			failures++
			fmt.Printf("FAIL: %s: %v\n", name, err)
			return false
		}
		if detail != "" {
			fmt.Printf("ok: %s (%s)\n", name, detail)
		} else {
			fmt.Printf("ok: %s\n", name)
		}
		return true
	case <-time.After(checkTimeout):
		failures++
		fmt.Printf("FAIL: %s: timed out after %s\n", name, checkTimeout)
		return false
	}
}

func skip(name string, why string) {
	checks++
	failures++
	fmt.Printf("FAIL: %s: not run (%s)\n", name, why)
}

// ---------------------------------------------------------------------------------------------
// mux broker (rpc/mux_broker.go semantics)

type broker struct {
	sess    *yamux.Session
	next    uint32
	mu      sync.Mutex
	pending map[uint32]chan net.Conn
}

func newBroker(sess *yamux.Session) *broker {
	b := &broker{sess: sess, pending: map[uint32]chan net.Conn{}}
	go b.run()
	return b
}

func (b *broker) NextId() uint32 { return atomic.AddUint32(&b.next, 1) }

func (b *broker) slot(id uint32) chan net.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.pending[id]
	if !ok {
		c = make(chan net.Conn, 1)
		b.pending[id] = c
	}
	return c
}

// run accepts every inbound stream, reads its 4-byte id and parks it for up to 5 s.
func (b *broker) run() {
	for {
		s, err := b.sess.AcceptStream()
		if err != nil {
			return
		}
		go func(s *yamux.Stream) {
			var hdr [4]byte
			_ = s.SetReadDeadline(time.Now().Add(brokerTimeout))
			if _, err := io.ReadFull(s, hdr[:]); err != nil {
				s.Close()
				return
			}
			_ = s.SetReadDeadline(time.Time{})
			id := binary.LittleEndian.Uint32(hdr[:])
			select {
			case b.slot(id) <- s:
			case <-time.After(brokerTimeout):
				s.Close()
			}
		}(s)
	}
}

// Accept waits for the peer to dial id, then acks it by echoing the id.
func (b *broker) Accept(id uint32) (net.Conn, error) {
	select {
	case s := <-b.slot(id):
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		var hdr [4]byte
		binary.LittleEndian.PutUint32(hdr[:], id)
		if _, err := s.Write(hdr[:]); err != nil {
			s.Close()
			return nil, fmt.Errorf("broker ack %d: %v", id, err)
		}
		return s, nil
	case <-time.After(brokerTimeout):
		return nil, fmt.Errorf("timeout waiting for the plugin to dial broker id %d", id)
	}
}

// Dial opens a stream to an id the plugin issued and checks its ack.
func (b *broker) Dial(id uint32) (net.Conn, error) {
	s, err := b.sess.OpenStream()
	if err != nil {
		return nil, err
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], id)
	if _, err := s.Write(hdr[:]); err != nil {
		s.Close()
		return nil, err
	}
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	var ack [4]byte
	if _, err := io.ReadFull(s, ack[:]); err != nil {
		s.Close()
		return nil, fmt.Errorf("broker id %d: reading ack: %v", id, err)
	}
	_ = s.SetReadDeadline(time.Time{})
	if got := binary.LittleEndian.Uint32(ack[:]); got != id {
		s.Close()
		return nil, fmt.Errorf("bad ack: %d (expected %d)", got, id)
	}
	return s, nil
}

func msgpackHandle() *codec.MsgpackHandle { return &codec.MsgpackHandle{WriteExt: true} }

func newRPCClient(conn net.Conn) *rpc.Client {
	return rpc.NewClientWithCodec(codec.GoRpc.ClientCodec(conn, msgpackHandle()))
}

func serveRPC(conn net.Conn, srv *rpc.Server) {
	srv.ServeCodec(codec.GoRpc.ServerCodec(conn, msgpackHandle()))
}

func call(c *rpc.Client, method string, args, reply interface{}) error {
	cl := c.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-cl.Done:
		return cl.Error
	case <-time.After(15 * time.Second):
		return fmt.Errorf("%s: no reply within 15 s", method)
	}
}

// ---------------------------------------------------------------------------------------------
// plugin process (packer/plugin_client.go semantics)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type plugin struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuf
	exited chan struct{}
	line   string
	sess   *yamux.Session
	br     *broker
	rpc    *rpc.Client
}

var (
	allMu   sync.Mutex
	started []*plugin
)

// baseEnv is the inherited environment without variables that would change the plugin's mode.
func baseEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, cookieKey+"=") || strings.HasPrefix(e, "PACKER_SDK_HANDSHAKE=") {
			continue
		}
		env = append(env, e)
	}
	return env
}

// parseHandshake validates the line exactly like modern Packer's PluginClient.Start.
func parseHandshake(raw string) (net.Addr, error) {
	line := strings.TrimSpace(raw)
	parts := strings.SplitN(line, "|", 4)
	if len(parts) == 3 {
		return nil, errors.New("The protocol of this plugin (protocol version 4 and lower) was deprecated, please use a newer version of this plugin.Or use an older version of Packer (pre 1.7) with this plugin.")
	}
	if len(parts) < 4 {
		return nil, fmt.Errorf("Unrecognized remote plugin message: %s", line)
	}
	major, minor, network, addr := parts[0], parts[1], parts[2], parts[3]
	if major != "5" {
		return nil, fmt.Errorf("Incompatible API MAJOR version with plugin. plugin MINOR API version: %s, Ours: 5", major)
	}
	if minor > "0" {
		return nil, fmt.Errorf("Incompatible API MINOR version with plugin. plugin MINOR API version: %s, Ours: 0. Please upgrade Packer.", minor)
	}
	switch network {
	case "tcp":
		return net.ResolveTCPAddr("tcp", addr)
	case "unix":
		return net.ResolveUnixAddr("unix", addr)
	default:
		return nil, fmt.Errorf("Unknown address type: %s", network)
	}
}

// startPlugin starts path with args, validates the handshake, dials, starts yamux (client role)
// and opens broker stream 0 with a net/rpc client on it.
func startPlugin(name, path string, args []string, extraEnv []string) (*plugin, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(baseEnv(), cookieKey+"="+cookieValue,
		"PACKER_PLUGIN_MIN_PORT=10000", "PACKER_PLUGIN_MAX_PORT=25000")
	cmd.Env = append(cmd.Env, extraEnv...)
	p := &plugin{name: name, cmd: cmd, stderr: &syncBuf{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	allMu.Lock()
	started = append(started, p)
	allMu.Unlock()
	lines := make(chan string, 16)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				select {
				case lines <- l:
				default: // drained nowhere: Packer discards later stdout
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	var addr net.Addr
	select {
	case l := <-lines:
		p.line = strings.TrimSpace(l)
		addr, err = parseHandshake(l)
		if err != nil {
			return p, fmt.Errorf("handshake %q: %v", p.line, err)
		}
	case <-p.exited:
		return p, fmt.Errorf("plugin exited before we could connect (%s); stderr: %s", cmd.ProcessState, tail(p.stderr.String()))
	case <-time.After(15 * time.Second):
		return p, errors.New("timeout while waiting for plugin to start")
	}
	conn, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
	if err != nil {
		return p, err
	}
	p.sess, err = yamux.Client(conn, nil)
	if err != nil {
		conn.Close()
		return p, err
	}
	p.br = newBroker(p.sess)
	s0, err := p.br.Dial(0)
	if err != nil {
		return p, fmt.Errorf("dialing broker id 0: %v", err)
	}
	p.rpc = newRPCClient(s0)
	return p, nil
}

// kill ends the plugin the way Packer's CleanupClients does (SIGKILL).
func (p *plugin) kill() {
	if p.sess != nil {
		p.sess.Close()
	}
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
	}
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	ls := strings.Split(s, "\n")
	if len(ls) > 8 {
		ls = ls[len(ls)-8:]
	}
	return strings.Join(ls, " / ")
}

// ---------------------------------------------------------------------------------------------
// ConfigSpec protobuf (rpc/hcl_spec.proto), minimal wire walker

type pbField struct {
	num    uint64
	wt     uint64
	varint uint64
	data   []byte
}

func pbFields(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad field key varint")
		}
		b = b[n:]
		f := pbField{num: key >> 3, wt: key & 7}
		if f.num == 0 {
			return nil, errors.New("field number 0")
		}
		switch f.wt {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			f.varint, b = v, b[n:]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("truncated fixed64")
			}
			f.data, b = b[:8], b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("bad/truncated length-delimited field")
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("truncated fixed32")
			}
			f.data, b = b[:4], b[4:]
		default:
			return nil, fmt.Errorf("unsupported wire type %d", f.wt)
		}
		out = append(out, f)
	}
	return out, nil
}

// ctyType is a cty type as the spec describes it.
type ctyType struct {
	kind string // "string", "number", "bool", "list", "map"
	elem *ctyType
}

func (t *ctyType) String() string {
	switch t.kind {
	case "list":
		return "list(" + t.elem.String() + ")"
	case "map":
		return "map(" + t.elem.String() + ")"
	}
	return t.kind
}

// ctyJSONType is the type in go-cty's JSON type grammar.
func (t *ctyType) ctyJSONType() interface{} {
	if t.elem != nil {
		return []interface{}{t.kind, t.elem.ctyJSONType()}
	}
	return t.kind
}

// specNode is one decoded Spec.
type specNode struct {
	kind     string // "object", "attr", "block", "block_list"
	attrs    map[string]*specNode
	name     string
	typ      *ctyType
	required bool
	nested   *specNode
}

// one returns the single length-delimited oneof member of a message.
func oneOf(b []byte, what string, allowed map[uint64]string) (uint64, []byte, error) {
	fs, err := pbFields(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %v", what, err)
	}
	if len(fs) != 1 {
		return 0, nil, fmt.Errorf("%s: want exactly one oneof member, got %d fields", what, len(fs))
	}
	f := fs[0]
	if _, ok := allowed[f.num]; !ok || f.wt != 2 {
		return 0, nil, fmt.Errorf("%s: unexpected field %d (wire type %d)", what, f.num, f.wt)
	}
	return f.num, f.data, nil
}

func decodeCty(b []byte) (*ctyType, error) {
	num, data, err := oneOf(b, "CtyType", map[uint64]string{1: "primitive", 2: "list", 3: "map"})
	if err != nil {
		return nil, err
	}
	fs, err := pbFields(data)
	if err != nil {
		return nil, err
	}
	if len(fs) != 1 || fs[0].num != 1 || fs[0].wt != 2 {
		return nil, fmt.Errorf("CtyType member %d: want exactly field 1", num)
	}
	switch num {
	case 1:
		switch s := string(fs[0].data); s {
		case "cty.String", "cty.Number", "cty.Bool":
			return &ctyType{kind: strings.ToLower(strings.TrimPrefix(s, "cty."))}, nil
		default:
			return nil, fmt.Errorf("CtyPrimitive.typeString %q is not one Packer converts", s)
		}
	default:
		e, err := decodeCty(fs[0].data)
		if err != nil {
			return nil, err
		}
		k := "list"
		if num == 3 {
			k = "map"
		}
		return &ctyType{kind: k, elem: e}, nil
	}
}

func decodeSpec(b []byte) (*specNode, error) {
	num, data, err := oneOf(b, "Spec", map[uint64]string{1: "object", 2: "attr", 3: "block_value", 4: "block_list"})
	if err != nil {
		return nil, err
	}
	fs, err := pbFields(data)
	if err != nil {
		return nil, err
	}
	n := &specNode{}
	switch num {
	case 1:
		n.kind, n.attrs = "object", map[string]*specNode{}
		for _, f := range fs {
			if f.num != 1 || f.wt != 2 {
				return nil, fmt.Errorf("Object: unexpected field %d", f.num)
			}
			ent, err := pbFields(f.data)
			if err != nil {
				return nil, err
			}
			var key string
			var val *specNode
			for _, e := range ent {
				switch {
				case e.num == 1 && e.wt == 2:
					key = string(e.data)
				case e.num == 2 && e.wt == 2:
					if val, err = decodeSpec(e.data); err != nil {
						return nil, fmt.Errorf("attributes[%q]: %v", key, err)
					}
				default:
					return nil, fmt.Errorf("Object.attributes entry: unexpected field %d", e.num)
				}
			}
			if val == nil {
				return nil, fmt.Errorf("Object.attributes[%q]: no value", key)
			}
			if _, dup := n.attrs[key]; dup {
				return nil, fmt.Errorf("Object.attributes: duplicate key %q", key)
			}
			n.attrs[key] = val
		}
	case 2:
		n.kind = "attr"
		for _, f := range fs {
			switch {
			case f.num == 1 && f.wt == 2:
				n.name = string(f.data)
			case f.num == 2 && f.wt == 2:
				if n.typ, err = decodeCty(f.data); err != nil {
					return nil, err
				}
			case f.num == 3 && f.wt == 0:
				n.required = f.varint != 0
			default:
				return nil, fmt.Errorf("Attr: unexpected field %d", f.num)
			}
		}
		if n.typ == nil {
			return nil, fmt.Errorf("Attr %q has no type", n.name)
		}
	case 3, 4:
		n.kind = "block"
		if num == 4 {
			n.kind = "block_list"
		}
		for _, f := range fs {
			switch {
			case f.num == 1 && f.wt == 2:
				n.name = string(f.data)
			case num == 3 && f.num == 2 && f.wt == 0:
				n.required = f.varint != 0
			case (num == 3 && f.num == 3 || num == 4 && f.num == 2) && f.wt == 2:
				if n.nested, err = decodeSpec(f.data); err != nil {
					return nil, err
				}
			default:
				return nil, fmt.Errorf("%s: unexpected field %d", n.kind, f.num)
			}
		}
		if n.nested == nil || n.nested.kind != "object" {
			return nil, fmt.Errorf("%s %q: nested spec is not an object", n.kind, n.name)
		}
	}
	return n, nil
}

// describeSpec renders an object spec as "name:type[!]" sorted, for comparisons and messages.
func describeSpec(n *specNode) string {
	var parts []string
	for k, v := range n.attrs {
		switch v.kind {
		case "attr":
			r := ""
			if v.required {
				r = "!"
			}
			parts = append(parts, fmt.Sprintf("%s=%s:%s%s", k, v.name, v.typ, r))
		default:
			parts = append(parts, fmt.Sprintf("%s=%s %s{%s}", k, v.kind, v.name, describeSpec(v.nested)))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// ctyJSONOf builds the cty JSON ({"value","type"}) Packer would send for this spec: every
// attribute present, unset ones null (rpc/cty_encode.go, go-cty json.Marshal).
func ctyJSONOf(spec *specNode, set map[string]interface{}) ([]byte, error) {
	types := map[string]interface{}{}
	values := map[string]interface{}{}
	for k, v := range spec.attrs {
		switch v.kind {
		case "attr":
			types[k] = v.typ.ctyJSONType()
		case "block":
			types[k] = []interface{}{"object", map[string]interface{}{}}
		case "block_list":
			types[k] = []interface{}{"list", []interface{}{"object", map[string]interface{}{}}}
		}
		values[k] = nil
	}
	for k, v := range set {
		if _, ok := spec.attrs[k]; !ok {
			return nil, fmt.Errorf("test bug: %q is not in the spec", k)
		}
		values[k] = v
	}
	return json.Marshal(map[string]interface{}{"value": values, "type": []interface{}{"object", types}})
}

// ---------------------------------------------------------------------------------------------
// ConfigSpec gob form (rpc/common.go decodes into hcldec.ObjectSpec); local look-alike types

type gobCty struct{ desc string }

type gobTypeWrapper struct {
	Version int
	Impl    interface{}
}

type ctyPrimitive struct{ Kind uint8 }
type ctyList struct{ ElementTypeT gobCty }
type ctyMap struct{ ElementTypeT gobCty }
type ctySet struct{ ElementTypeT gobCty }
type ctyObject struct{ AttrTypes map[string]gobCty }

func (t *gobCty) GobDecode(b []byte) error {
	var w gobTypeWrapper
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return fmt.Errorf("cty.Type gob: %v", err)
	}
	switch v := w.Impl.(type) {
	case ctyPrimitive:
		switch v.Kind {
		case 'S':
			t.desc = "string"
		case 'N':
			t.desc = "number"
		case 'B':
			t.desc = "bool"
		default:
			return fmt.Errorf("unknown cty primitive kind %d", v.Kind)
		}
	case ctyList:
		t.desc = "list(" + v.ElementTypeT.desc + ")"
	case ctyMap:
		t.desc = "map(" + v.ElementTypeT.desc + ")"
	case ctySet:
		t.desc = "set(" + v.ElementTypeT.desc + ")"
	case ctyObject:
		t.desc = "object"
	default:
		return fmt.Errorf("unexpected cty type impl %T", w.Impl)
	}
	return nil
}

type gobAttrSpec struct {
	Name     string
	Type     gobCty
	Required bool
}

// Nested blocks: hcldec.BlockSpec / BlockListSpec hold an hcldec.ObjectSpec in an interface,
// registered under its import path (upstream module builds: github.com/hashicorp/hcl/v2).
type gobObjectSpec map[string]interface{}

type gobBlockSpec struct {
	TypeName string
	Nested   interface{}
	Required bool
}

type gobBlockListSpec struct {
	TypeName string
	Nested   interface{}
	MinItems int
	MaxItems int
}

func init() {
	gob.RegisterName("github.com/zclconf/go-cty/cty.primitiveType", ctyPrimitive{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeList", ctyList{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeMap", ctyMap{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeSet", ctySet{})
	gob.RegisterName("github.com/zclconf/go-cty/cty.typeObject", ctyObject{})
	gob.RegisterName("*hcldec.AttrSpec", &gobAttrSpec{})
	gob.RegisterName("*hcldec.BlockSpec", &gobBlockSpec{})
	gob.RegisterName("*hcldec.BlockListSpec", &gobBlockListSpec{})
	gob.RegisterName("github.com/hashicorp/hcl/v2/hcldec.ObjectSpec", gobObjectSpec{})
}

func describeGobSpec(b []byte) (string, error) {
	var m map[string]interface{}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		return "", err
	}
	var parts []string
	for k, v := range m {
		switch a := v.(type) {
		case *gobAttrSpec:
			r := ""
			if a.Required {
				r = "!"
			}
			parts = append(parts, fmt.Sprintf("%s=%s:%s%s", k, a.Name, a.Type.desc, r))
		case *gobBlockListSpec:
			if _, ok := a.Nested.(gobObjectSpec); !ok {
				return "", fmt.Errorf("%q: block list without a nested ObjectSpec (%T)", k, a.Nested)
			}
			parts = append(parts, fmt.Sprintf("%s=%s:block_list", k, a.TypeName))
		case *gobBlockSpec:
			if _, ok := a.Nested.(gobObjectSpec); !ok {
				return "", fmt.Errorf("%q: block without a nested ObjectSpec (%T)", k, a.Nested)
			}
			parts = append(parts, fmt.Sprintf("%s=%s:block", k, a.TypeName))
		default:
			return "", fmt.Errorf("%q: unexpected spec type %T", k, v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " "), nil
}

// ---------------------------------------------------------------------------------------------
// RPC shapes (packer-plugin-sdk rpc/*.go)

type ConfigSpecResponse struct{ ConfigSpec []byte }
type PrepareArgs struct{ Configs []interface{} }
type ProvisionArgs struct {
	GeneratedData map[string]interface{}
	StreamID      uint32
}
type BasicError struct{ Message string }
type PostProcessResponse struct {
	Err           *BasicError
	Keep          bool
	ForceOverride bool
	StreamId      uint32
}

// Ui service (rpc/ui.go), records every call.
type UiMachineArgs struct {
	Category string
	Args     []string
}
type UiServer struct {
	mu  sync.Mutex
	log []string
}

func (u *UiServer) add(s string) { u.mu.Lock(); u.log = append(u.log, s); u.mu.Unlock() }
func (u *UiServer) Lines() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.log...)
}
func (u *UiServer) Say(m *string, r *interface{}) error { u.add("say: " + *m); *r = nil; return nil }
func (u *UiServer) Message(m *string, r *interface{}) error {
	u.add("message: " + *m)
	*r = nil
	return nil
}
func (u *UiServer) Error(m *string, r *interface{}) error {
	u.add("error: " + *m)
	*r = nil
	return nil
}
func (u *UiServer) Ask(m *string, r *string) error { u.add("ask: " + *m); *r = "yes"; return nil }
func (u *UiServer) Machine(a *UiMachineArgs, r *interface{}) error {
	u.add("machine: " + a.Category + "," + strings.Join(a.Args, ","))
	return nil
}

// Artifact service (rpc/artifact.go): the amazon-ebs-like input artifact.
type ArtifactServer struct {
	mu    sync.Mutex
	calls []string
}

func (a *ArtifactServer) rec(s string) { a.mu.Lock(); a.calls = append(a.calls, s); a.mu.Unlock() }
func (a *ArtifactServer) BuilderId(_ *interface{}, r *string) error {
	a.rec("BuilderId")
	*r = "mitchellh.amazonebs"
	return nil
}
func (a *ArtifactServer) Id(_ *interface{}, r *string) error { a.rec("Id"); *r = inputID; return nil }
func (a *ArtifactServer) Files(_ *interface{}, r *[]string) error {
	a.rec("Files")
	*r = nil
	return nil
}
func (a *ArtifactServer) String(_ *interface{}, r *string) error {
	a.rec("String")
	*r = "AMIs were created:\nus-east-1: ami-0123\nus-west-2: ami-0456\n"
	return nil
}
func (a *ArtifactServer) State(name string, r *interface{}) error {
	a.rec("State(" + name + ")")
	if name == "generated_data" {
		*r = map[string]interface{}{"SourceAMI": "ami-src", "BuildRegion": "us-east-1"}
	} else {
		*r = nil
	}
	return nil
}
func (a *ArtifactServer) Destroy(_ *interface{}, r *error) error {
	a.rec("Destroy")
	*r = nil
	return nil
}

// Communicator service (rpc/communicator.go), faking a remote shell: `echo X` prints X,
// `exit N` exits N.
type CommunicatorStartArgs struct {
	Command          string
	StdinStreamId    uint32
	StdoutStreamId   uint32
	StderrStreamId   uint32
	ResponseStreamId uint32
}
type CommandFinished struct{ ExitStatus int }
type CommunicatorServer struct {
	br       *broker
	mu       sync.Mutex
	commands []string
	errs     []string
}

func (c *CommunicatorServer) Start(a *CommunicatorStartArgs, r *interface{}) error {
	c.mu.Lock()
	c.commands = append(c.commands, a.Command)
	c.mu.Unlock()
	dial := func(id uint32) (net.Conn, error) {
		if id == 0 {
			return nil, nil
		}
		return c.br.Dial(id)
	}
	var conns [4]net.Conn
	for i, id := range []uint32{a.StdinStreamId, a.StdoutStreamId, a.StderrStreamId, a.ResponseStreamId} {
		cn, err := dial(id)
		if err != nil {
			c.mu.Lock()
			c.errs = append(c.errs, fmt.Sprintf("dial stream %d: %v", id, err))
			c.mu.Unlock()
			return err
		}
		conns[i] = cn
	}
	if conns[3] == nil {
		return errors.New("ResponseStreamId is 0")
	}
	go func() {
		code := 0
		var out string
		switch {
		case strings.HasPrefix(a.Command, "echo "):
			out = strings.TrimPrefix(a.Command, "echo ") + "\n"
		case strings.HasPrefix(a.Command, "exit "):
			fmt.Sscanf(strings.TrimPrefix(a.Command, "exit "), "%d", &code)
		}
		if conns[1] != nil {
			io.WriteString(conns[1], out)
			conns[1].Close()
		}
		if conns[2] != nil {
			conns[2].Close()
		}
		if conns[0] != nil {
			conns[0].Close()
		}
		_ = gob.NewEncoder(conns[3]).Encode(&CommandFinished{ExitStatus: code})
		conns[3].Close()
	}()
	return nil
}

// ---------------------------------------------------------------------------------------------
// helpers for the scenarios

func packerVars() map[string]interface{} {
	return map[string]interface{}{
		"packer_build_name":          "b",
		"packer_builder_type":        "null",
		"packer_core_version":        "1.12.0",
		"packer_debug":               "false",
		"packer_force":               "false",
		"packer_on_error":            "",
		"packer_sensitive_variables": []string{secretVar},
	}
}

func configSpec(p *plugin, service string) (*specNode, []byte, error) {
	var resp ConfigSpecResponse
	if err := call(p.rpc, service+".ConfigSpec", new(interface{}), &resp); err != nil {
		return nil, nil, err
	}
	if len(resp.ConfigSpec) == 0 {
		return nil, nil, errors.New("empty ConfigSpec")
	}
	n, err := decodeSpec(resp.ConfigSpec)
	if err != nil {
		return nil, resp.ConfigSpec, fmt.Errorf("protobuf Spec does not decode: %v (bytes % x)", err, head(resp.ConfigSpec))
	}
	if n.kind != "object" {
		return nil, resp.ConfigSpec, fmt.Errorf("root Spec is %s, want object", n.kind)
	}
	return n, resp.ConfigSpec, nil
}

func head(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func expectAttrs(n *specNode, want map[string]string) error {
	for k, w := range want {
		a, ok := n.attrs[k]
		if !ok {
			return fmt.Errorf("attribute %q missing; spec: %s", k, describeSpec(n))
		}
		got := ""
		if a.kind == "attr" {
			got = a.typ.String()
			if a.required {
				got += "!"
			}
		} else {
			got = a.kind
		}
		if a.name != k {
			return fmt.Errorf("attribute key %q has Attr.name %q", k, a.name)
		}
		if got != w {
			return fmt.Errorf("attribute %q is %s, want %s", k, got, w)
		}
	}
	if len(n.attrs) != len(want) {
		return fmt.Errorf("spec has %d attributes, want %d: %s", len(n.attrs), len(want), describeSpec(n))
	}
	return nil
}

func prepare(p *plugin, method string, spec *specNode, set map[string]interface{}, withOverride bool) error {
	cty, err := ctyJSONOf(spec, set)
	if err != nil {
		return err
	}
	configs := []interface{}{packerVars(), cty}
	if withOverride {
		configs = append(configs, nil)
	}
	return call(p.rpc, method, &PrepareArgs{Configs: configs}, new(interface{}))
}

func wantErr(err error, sub ...string) (string, error) {
	if err == nil {
		return "", errors.New("expected an error, got none")
	}
	var se rpc.ServerError
	if !errors.As(err, &se) {
		return "", fmt.Errorf("expected a server error, got transport error: %v", err)
	}
	for _, s := range sub {
		if !strings.Contains(err.Error(), s) {
			return "", fmt.Errorf("error %q does not mention %q", err.Error(), s)
		}
	}
	return fmt.Sprintf("%q", err.Error()), nil
}

func anyContains(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------------
// scenarios

func describeChecks(path string) {
	check("describe works without the cookie and reports a modern-Packer-compatible description", func() (string, error) {
		cmd := exec.Command(path, "describe")
		cmd.Env = baseEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("describe failed: %v; stderr: %s", err, tail(stderr.String()))
		}
		var d struct {
			Version         *string  `json:"version"`
			SDKVersion      *string  `json:"sdk_version"`
			APIVersion      string   `json:"api_version"`
			Builders        []string `json:"builders"`
			PostProcessors  []string `json:"post_processors"`
			Provisioners    []string `json:"provisioners"`
			Datasources     []string `json:"datasources"`
			ProtocolVersion string   `json:"protocol_version"`
		}
		if err := json.Unmarshal(out, &d); err != nil {
			return "", fmt.Errorf("not JSON: %v: %q", err, out)
		}
		switch {
		case d.Version == nil || !regexp.MustCompile(`^\d+\.\d+\.\d+(-dev)?$`).MatchString(*d.Version):
			return "", fmt.Errorf("version is not a semver modern install accepts: %s", out)
		case d.SDKVersion == nil:
			return "", fmt.Errorf("no sdk_version: %s", out)
		case d.APIVersion != "x5.0":
			return "", fmt.Errorf("api_version %q, want x5.0", d.APIVersion)
		case d.ProtocolVersion != "v2":
			return "", fmt.Errorf("protocol_version %q, want v2", d.ProtocolVersion)
		case strings.Join(d.Provisioners, ",") != "run" || strings.Join(d.PostProcessors, ",") != "wrap":
			return "", fmt.Errorf("components: provisioners %v post_processors %v", d.Provisioners, d.PostProcessors)
		case len(d.Builders) != 0 || len(d.Datasources) != 0:
			return "", fmt.Errorf("unexpected builders/datasources: %s", out)
		}
		describedVersion = *d.Version
		return "version " + *d.Version, nil
	})
	check("start without the magic cookie exits non-zero and points to `packer plugins install`", func() (string, error) {
		cmd := exec.Command(path, "start", "provisioner", "--protobuf", "run")
		cmd.Env = baseEnv()
		var out syncBuf
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			return "", err
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				return "", fmt.Errorf("want a non-zero exit, got %v", err)
			}
			if !strings.Contains(out.String(), "packer plugins install") {
				return "", fmt.Errorf("output does not mention `packer plugins install`: %q", out.String())
			}
			if strings.Contains(out.String(), "|unix|") {
				return "", errors.New("printed a handshake line without the cookie")
			}
			return fmt.Sprintf("exit %d", ee.ExitCode()), nil
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			return "", errors.New("did not exit (it should refuse to serve)")
		}
	})
}

// describedVersion is the plugin's version from describe (names the installed binary).
var describedVersion = "0.1.0"

var runAttrs = map[string]string{
	"inline":               "list(string)",
	"upload_source":        "string",
	"upload_destination":   "string",
	"download_source":      "string",
	"download_destination": "string",
	"env":                  "block_list",
}

func provisionerChecks(path string) {
	var p *plugin
	ok := check("provisioner: `start provisioner --protobuf run` handshake accepted by the modern client; yamux + broker id 0", func() (string, error) {
		var err error
		p, err = startPlugin("provisioner", path, []string{"start", "provisioner", "--protobuf", "run"}, nil)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q", p.line), nil
	})
	if !ok {
		skip("provisioner checks", "no session")
		return
	}
	var spec *specNode
	if !check("provisioner: ConfigSpec is a protobuf Spec{object} with the 5 optional attributes and the env block list", func() (string, error) {
		n, raw, err := configSpec(p, "Provisioner")
		if err != nil {
			return "", err
		}
		if err := expectAttrs(n, runAttrs); err != nil {
			return "", err
		}
		spec = n
		return fmt.Sprintf("%d bytes: %s", len(raw), describeSpec(n)), nil
	}) {
		skip("provisioner Prepare/Provision checks", "no usable spec")
		return
	}
	check("provisioner: Prepare with modern HCL2 Configs (vars map, cty JSON bytes, nil) succeeds, twice", func() (string, error) {
		for i := 0; i < 2; i++ {
			if err := prepare(p, "Provisioner.Prepare", spec, map[string]interface{}{"inline": []string{"echo hi"}}, true); err != nil {
				return "", fmt.Errorf("call %d: %v", i+1, err)
			}
		}
		return "", nil
	})
	check("provisioner: Prepare with inline = [\"ok\", \"\"] fails naming inline[1]", func() (string, error) {
		err := prepare(p, "Provisioner.Prepare", spec, map[string]interface{}{"inline": []string{"ok", ""}}, true)
		return wantErr(err, "inline[1]")
	})
	check("provisioner: Prepare with nothing to do fails naming inline", func() (string, error) {
		err := prepare(p, "Provisioner.Prepare", spec, nil, true)
		return wantErr(err, "inline")
	})
	check("provisioner: Prepare with upload_source but no upload_destination fails naming upload_destination", func() (string, error) {
		err := prepare(p, "Provisioner.Prepare", spec, map[string]interface{}{"upload_source": path}, true)
		return wantErr(err, "upload_destination")
	})
	check("provisioner: Provision runs commands through Packer's Ui+Communicator (Go-issued id, plugin-issued stream ids, gob exit status); secrets masked", func() (string, error) {
		cmds := []string{"echo hi", "echo " + secretVar, "echo " + secretGen}
		if err := prepare(p, "Provisioner.Prepare", spec, map[string]interface{}{"inline": cmds}, true); err != nil {
			return "", fmt.Errorf("Prepare: %v", err)
		}
		ui := &UiServer{}
		comm := &CommunicatorServer{br: p.br}
		id := p.br.NextId()
		srv := rpc.NewServer()
		if err := srv.RegisterName("Ui", ui); err != nil {
			return "", err
		}
		if err := srv.RegisterName("Communicator", comm); err != nil {
			return "", err
		}
		acc := make(chan error, 1)
		go func() {
			c, err := p.br.Accept(id)
			acc <- err
			if err == nil {
				serveRPC(c, srv)
			}
		}()
		gen := map[string]interface{}{
			"ID": "Null", "Host": "127.0.0.1", "Port": 2222, "User": "root", "ConnType": "ssh",
			"Password": secretGen, "PackerRunUUID": "0b6f1c2e-aaaa-bbbb-cccc-0123456789ab",
			"SSHAgentAuth": false,
		}
		err := call(p.rpc, "Provisioner.Provision", &ProvisionArgs{GeneratedData: gen, StreamID: id}, new(interface{}))
		if aerr := <-acc; aerr != nil {
			return "", aerr
		}
		if err != nil {
			return "", fmt.Errorf("Provision: %v; ui %q; comm errs %q", err, ui.Lines(), comm.errs)
		}
		comm.mu.Lock()
		got := strings.Join(comm.commands, "|")
		comm.mu.Unlock()
		if got != strings.Join(cmds, "|") {
			return "", fmt.Errorf("Communicator.Start got %q, want %q", got, cmds)
		}
		lines := ui.Lines()
		if !anyContains(lines, "message: hi") {
			return "", fmt.Errorf("stdout line \"hi\" not relayed to Ui.Message: %q", lines)
		}
		if anyContains(lines, secretVar) || anyContains(lines, secretGen) {
			return "", fmt.Errorf("a secret reached the Ui: %q", lines)
		}
		if !anyContains(lines, "<sensitive>") {
			return "", fmt.Errorf("no masked output seen: %q", lines)
		}
		if os.Getenv("GO_PEER_VERBOSE") != "" {
			return fmt.Sprintf("Ui calls %q", lines), nil
		}
		return fmt.Sprintf("%d Ui calls", len(lines)), nil
	})
	check("provisioner: Provision with a failing command returns the exit status as the error", func() (string, error) {
		if err := prepare(p, "Provisioner.Prepare", spec, map[string]interface{}{"inline": []string{"exit 3"}}, true); err != nil {
			return "", fmt.Errorf("Prepare: %v", err)
		}
		ui := &UiServer{}
		srv := rpc.NewServer()
		srv.RegisterName("Ui", ui)
		srv.RegisterName("Communicator", &CommunicatorServer{br: p.br})
		id := p.br.NextId()
		go func() {
			if c, err := p.br.Accept(id); err == nil {
				serveRPC(c, srv)
			}
		}()
		err := call(p.rpc, "Provisioner.Provision", &ProvisionArgs{GeneratedData: map[string]interface{}{"Host": "h"}, StreamID: id}, new(interface{}))
		return wantErr(err, "3")
	})
	check("provisioner: unknown method -> \"rpc: can't find method Provisioner.Nope\", connection still usable", func() (string, error) {
		err := call(p.rpc, "Provisioner.Nope", new(interface{}), new(interface{}))
		if err == nil || err.Error() != "rpc: can't find method Provisioner.Nope" {
			return "", fmt.Errorf("got %v", err)
		}
		err = call(p.rpc, "Nope.Thing", new(interface{}), new(interface{}))
		if err == nil || err.Error() != "rpc: can't find service Nope.Thing" {
			return "", fmt.Errorf("unknown service: got %v", err)
		}
		if _, _, err := configSpec(p, "Provisioner"); err != nil {
			return "", fmt.Errorf("ConfigSpec afterwards: %v", err)
		}
		return "", nil
	})
	check("provisioner: Cancel with nothing running returns nil", func() (string, error) {
		return "", call(p.rpc, "Provisioner.Cancel", new(interface{}), new(interface{}))
	})
	p.kill()
}

func postProcessorChecks(path string) {
	var p *plugin
	if !check("post-processor: `start post-processor --protobuf wrap` handshake accepted; broker id 0", func() (string, error) {
		var err error
		p, err = startPlugin("post-processor", path, []string{"start", "post-processor", "--protobuf", "wrap"}, nil)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%q", p.line), nil
	}) {
		skip("post-processor checks", "no session")
		return
	}
	var spec *specNode
	if !check("post-processor: ConfigSpec protobuf has note: required string", func() (string, error) {
		n, raw, err := configSpec(p, "PostProcessor")
		if err != nil {
			return "", err
		}
		if err := expectAttrs(n, map[string]string{"note": "string!"}); err != nil {
			return "", err
		}
		spec = n
		return fmt.Sprintf("%d bytes: % x", len(raw), raw), nil
	}) {
		skip("post-processor Configure/PostProcess checks", "no usable spec")
		return
	}
	check("post-processor: Configure with note = \"\" fails naming note", func() (string, error) {
		return wantErr(prepare(p, "PostProcessor.Configure", spec, map[string]interface{}{"note": ""}, false), "note")
	})
	check("post-processor: Configure with modern HCL2 Configs succeeds, twice", func() (string, error) {
		for i := 0; i < 2; i++ {
			if err := prepare(p, "PostProcessor.Configure", spec, map[string]interface{}{"note": wrapNote}, false); err != nil {
				return "", fmt.Errorf("call %d: %v", i+1, err)
			}
		}
		return "", nil
	})
	ui := &UiServer{}
	in := &ArtifactServer{}
	var resp PostProcessResponse
	if !check("post-processor: PostProcess(input id) -> Err nil, Keep true, StreamId != 0", func() (string, error) {
		id := p.br.NextId()
		srv := rpc.NewServer()
		srv.RegisterName("Artifact", in)
		srv.RegisterName("Ui", ui)
		acc := make(chan error, 1)
		go func() {
			c, err := p.br.Accept(id)
			acc <- err
			if err == nil {
				serveRPC(c, srv)
			}
		}()
		err := call(p.rpc, "PostProcessor.PostProcess", id, &resp)
		if aerr := <-acc; aerr != nil {
			return "", aerr
		}
		if err != nil {
			return "", err
		}
		if resp.Err != nil {
			return "", fmt.Errorf("Err = %q", resp.Err.Message)
		}
		if !resp.Keep || resp.StreamId == 0 {
			return "", fmt.Errorf("reply %+v", resp)
		}
		in.mu.Lock()
		calls := strings.Join(in.calls, ",")
		in.mu.Unlock()
		return fmt.Sprintf("input id %d, reply %+v, input artifact calls %s", id, resp, calls), nil
	}) {
		skip("output artifact checks", "no artifact")
		p.kill()
		return
	}
	check("post-processor: Ui got a Say mentioning the input artifact id", func() (string, error) {
		for _, l := range ui.Lines() {
			if strings.HasPrefix(l, "say: ") && strings.Contains(l, inputID) {
				return fmt.Sprintf("%q", l), nil
			}
		}
		return "", fmt.Errorf("Ui calls: %q", ui.Lines())
	})
	check("post-processor: output artifact on plugin-issued StreamId answers Id/BuilderId/String/Files/State/Destroy", func() (string, error) {
		conn, err := p.br.Dial(resp.StreamId)
		if err != nil {
			return "", err
		}
		c := newRPCClient(conn)
		defer c.Close()
		var id, bid, str string
		if err := call(c, "Artifact.Id", new(interface{}), &id); err != nil {
			return "", fmt.Errorf("Id: %v", err)
		}
		if id != inputID {
			return "", fmt.Errorf("Id = %q, want %q", id, inputID)
		}
		if err := call(c, "Artifact.BuilderId", new(interface{}), &bid); err != nil {
			return "", fmt.Errorf("BuilderId: %v", err)
		}
		if bid != "amiforge.scaffold.wrap" {
			return "", fmt.Errorf("BuilderId = %q", bid)
		}
		if err := call(c, "Artifact.String", new(interface{}), &str); err != nil {
			return "", fmt.Errorf("String: %v", err)
		}
		if !strings.Contains(str, wrapNote) {
			return "", fmt.Errorf("String = %q lacks the note", str)
		}
		var files []string
		if err := call(c, "Artifact.Files", new(interface{}), &files); err != nil {
			return "", fmt.Errorf("Files: %v", err)
		}
		var state interface{}
		if err := call(c, "Artifact.State", "generated_data", &state); err != nil {
			return "", fmt.Errorf("State: %v", err)
		}
		switch m := state.(type) {
		case nil:
		case map[interface{}]interface{}:
			for k, v := range m {
				if _, ok := k.(string); !ok {
					return "", fmt.Errorf("State key %#v is %T, want string", k, k)
				}
				if _, ok := v.(string); !ok {
					return "", fmt.Errorf("State[%v] = %#v (%T), want string", k, v, v)
				}
			}
		default:
			return "", fmt.Errorf("State(generated_data) = %#v (%T), want map or nil", state, state)
		}
		var other interface{}
		if err := call(c, "Artifact.State", "atlas.artifact.metadata", &other); err != nil {
			return "", fmt.Errorf("State(other): %v", err)
		}
		var derr error
		if err := call(c, "Artifact.Destroy", new(interface{}), &derr); err != nil {
			return "", fmt.Errorf("Destroy: %v", err)
		}
		if derr != nil {
			return "", fmt.Errorf("Destroy returned %v", derr)
		}
		// the connection must still be alive after Destroy's reply was decoded
		if err := call(c, "Artifact.Id", new(interface{}), &id); err != nil {
			return "", fmt.Errorf("Id after Destroy: %v", err)
		}
		return fmt.Sprintf("String %q, Files %v, State %v", str, files, state), nil
	})
	check("post-processor: Cancel returns nil", func() (string, error) {
		return "", call(p.rpc, "PostProcessor.Cancel", new(interface{}), new(interface{}))
	})
	p.kill()
}

// gobChecks: a modern Packer that does not pass --protobuf (1.11, or PACKER_FORCE_GOB) gets gob.
func gobChecks(path string) {
	run := func(title, bin string, args, env []string, service string, want map[string]string, set map[string]interface{}, method string, override bool) {
		check(title, func() (string, error) {
			p, err := startPlugin("gob", bin, args, env)
			if p != nil {
				defer p.kill()
			}
			if err != nil {
				return "", err
			}
			var resp ConfigSpecResponse
			if err := call(p.rpc, service+".ConfigSpec", new(interface{}), &resp); err != nil {
				return "", err
			}
			got, err := describeGobSpec(resp.ConfigSpec)
			if err != nil {
				return "", fmt.Errorf("gob ConfigSpec does not decode: %v (bytes % x)", err, head(resp.ConfigSpec))
			}
			var exp []string
			for k, v := range want {
				t := strings.TrimSuffix(v, "!")
				r := ""
				if strings.HasSuffix(v, "!") {
					r = "!"
				}
				exp = append(exp, fmt.Sprintf("%s=%s:%s%s", k, k, t, r))
			}
			sort.Strings(exp)
			if got != strings.Join(exp, " ") {
				return "", fmt.Errorf("gob spec %q, want %q", got, strings.Join(exp, " "))
			}
			spec := &specNode{kind: "object", attrs: map[string]*specNode{}}
			for k, v := range want {
				t := &ctyType{kind: strings.TrimSuffix(v, "!")}
				if strings.HasPrefix(v, "list(") {
					t = &ctyType{kind: "list", elem: &ctyType{kind: "string"}}
				}
				spec.attrs[k] = &specNode{kind: "attr", name: k, typ: t}
			}
			if err := prepare(p, method, spec, set, override); err != nil {
				return "", fmt.Errorf("%s: %v", method, err)
			}
			return fmt.Sprintf("%q, %d bytes of gob", p.line, len(resp.ConfigSpec)), nil
		})
	}
	run("gob: `start provisioner run` + PACKER_SDK_HANDSHAKE=4 -> 4-part handshake, gob ConfigSpec decodes, Prepare ok",
		path, []string{"start", "provisioner", "run"}, []string{"PACKER_SDK_HANDSHAKE=4"},
		"Provisioner", runAttrs, map[string]interface{}{"inline": []string{"echo hi"}}, "Provisioner.Prepare", true)

	// Packer 1.11 style: installed versioned file name, no flag, no env override.
	dir, err := os.MkdirTemp("", "go-peer-install")
	if err != nil {
		skip("gob: installed-name binary", err.Error())
		return
	}
	defer os.RemoveAll(dir)
	abs, _ := filepath.Abs(path)
	name := "packer-plugin-scaffold_v" + describedVersion + "_x5.0_" + runtime.GOOS + "_" + runtime.GOARCH
	bin := filepath.Join(dir, name)
	if err := os.Symlink(abs, bin); err != nil {
		skip("gob: installed-name binary", err.Error())
		return
	}
	run("gob: installed name "+name+" `start post-processor wrap` (Packer 1.11 style) -> 4-part handshake, gob ConfigSpec, Configure ok",
		bin, []string{"start", "post-processor", "wrap"}, nil,
		"PostProcessor", map[string]string{"note": "string!"}, map[string]interface{}{"note": wrapNote}, "PostProcessor.Configure", false)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: modern_packer PLUGIN_PATH")
		os.Exit(2)
	}
	path := os.Args[1]
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		fmt.Printf("FAIL: plugin binary %s not found\n", path)
		os.Exit(1)
	}
	go func() {
		time.Sleep(globalDeadline)
		fmt.Printf("FAIL: whole run exceeded %s\n", globalDeadline)
		killAll()
		os.Exit(1)
	}()
	describeChecks(path)
	provisionerChecks(path)
	postProcessorChecks(path)
	gobChecks(path)
	killAll()
	if failures > 0 {
		fmt.Printf("%d of %d checks FAILED\n", failures, checks)
		dumpStderr()
		os.Exit(1)
	}
	fmt.Printf("ALL OK (%d checks)\n", checks)
}

func killAll() {
	allMu.Lock()
	ps := append([]*plugin(nil), started...)
	allMu.Unlock()
	for _, p := range ps {
		p.kill()
	}
}

func dumpStderr() {
	allMu.Lock()
	defer allMu.Unlock()
	for _, p := range started {
		if s := strings.TrimSpace(p.stderr.String()); s != "" {
			fmt.Printf("--- %s plugin stderr (last lines): %s\n", p.name, tail(s))
		}
	}
}
