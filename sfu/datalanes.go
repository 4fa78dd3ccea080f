package sfu

// senderLanes is one receiver's queue of reliable messages: a FIFO lane
// per sender, served in turn, one message each. A chat line from one
// participant then waits behind at most one chunk of another's file
// transfer, not behind the whole transfer (which the data pacer may spread
// over seconds on a slow link), while each sender's messages keep their
// order. The zero value is empty and ready.
type senderLanes struct {
	lanes map[string]*[][]byte
	order []string // senders with queued messages, the next to serve first
	n     int      // messages queued
}

// push queues msg from sender from (the server's own messages use "").
func (q *senderLanes) push(from string, msg []byte) {
	if q.lanes == nil {
		q.lanes = make(map[string]*[][]byte)
	}
	lane := q.lanes[from]
	if lane == nil {
		lane = new([][]byte)
		q.lanes[from] = lane
		q.order = append(q.order, from)
	}
	*lane = append(*lane, msg)
	q.n++
}

// pop takes the next message in turn, nil when none is queued.
func (q *senderLanes) pop() []byte {
	if q.n == 0 {
		return nil
	}
	from := q.order[0]
	lane := q.lanes[from]
	msg := (*lane)[0]
	(*lane)[0] = nil
	*lane = (*lane)[1:]
	q.n--
	copy(q.order, q.order[1:])
	q.order = q.order[:len(q.order)-1]
	if len(*lane) > 0 {
		q.order = append(q.order, from) // its next message waits for the others' turn
	} else {
		delete(q.lanes, from)
	}
	return msg
}

// len is the number of messages queued.
func (q *senderLanes) len() int { return q.n }

// reset drops everything queued.
func (q *senderLanes) reset() { *q = senderLanes{} }
