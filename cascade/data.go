package cascade

import (
	"encoding/json"

	"github.com/hibiki-sfu/hibiki/sfu"
)

// dataQueue bounds the data messages waiting to be published to other
// nodes; beyond it they are dropped (and logged), never waited for: the
// sender's data channel must not stall on Redis.
const dataQueue = 4096

// dataMsg is a data-channel message on its way to another node.
type dataMsg struct {
	Room    string   `json:"room"`
	To      []string `json:"to,omitempty"`
	Lossy   bool     `json:"lossy,omitempty"`
	Deliver []byte   `json:"deliver"`
}

type outData struct {
	node string
	msg  []byte
}

// SendData queues a data message for participants another node serves
// (sfu.WithRemoteData calls it). It never blocks.
func (c *Coordinator) SendData(m sfu.RemoteData) {
	b, err := json.Marshal(dataMsg{Room: m.Room, To: m.To, Lossy: m.Lossy, Deliver: m.Deliver})
	if err != nil {
		return
	}
	select {
	case c.dataq <- outData{node: m.Node, msg: b}:
	default:
		c.log.Warn("data for another node dropped: queue full", "node", m.Node, "room", m.Room)
	}
}

// sendData publishes the queued data messages in order.
func (c *Coordinator) sendData() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case d := <-c.dataq:
			if err := c.cfg.Store.SendData(c.ctx, d.node, d.msg); err != nil {
				c.log.Debug("data for another node lost", "node", d.node, "err", err)
			}
		}
	}
}

// receiveData hands a data message from another node to the room's local
// participants.
func (c *Coordinator) receiveData(b []byte) {
	var m dataMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.log.Debug("unreadable data from another node", "err", err)
		return
	}
	if r := c.cfg.SFU.Room(m.Room); r != nil {
		r.DeliverData(m.To, m.Deliver, m.Lossy)
	}
}
