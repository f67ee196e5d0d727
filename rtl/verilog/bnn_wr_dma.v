// AXI4 write DMA: the STORE of the last map (docs/timing.md section 5).
// Reads residual-buffer words into a small FIFO (one read per cycle while there is
// room) and streams them as W beats in bursts of at most BMAX beats. A burst starts
// (AW and its first W beat in the same cycle) when the previous burst's last W beat
// has gone, its AW was accepted, and fewer than O_W bursts await their B response.
// With an always-ready memory the first W beat leaves two cycles after `init`'s
// following cycle (lambda_store = 2: residual read, FIFO write). `fin` marks the
// cycle of the last B handshake.
// In a stream (docs/timing.md 9, rule S5) `init` of the next STORE may come while earlier ones
// still wait for B responses: they stay outstanding (the O_W limit counts them). Every STORE of a
// stream has the same bursts, so counting B responses modulo their number tells each STORE's last
// one: `fin` marks every STORE's end, in order. At `init` the previous STORE has sent every W beat
// (S2, S4). `w_left` / `w_last`: the STORE still has W beats to send / sends its last now.
`default_nettype none
module bnn_wr_dma #(
    parameter D = 128,
    parameter BMAX = 16,
    parameter O_W = 8,
    parameter OWW = 4,
    parameter AXW = 32,
    parameter BTW = 24,
    parameter BPR = 2,
    parameter BPRW = 1,
    parameter RESW = 256,
    parameter RAW = 12
) (
    input wire clk,
    input wire rst,
    input wire init,  // the cycle before the STORE starts
    input wire [AXW-1:0] store_addr,
    input wire [BTW-1:0] store_beats,
    input wire [RAW:0] store_words,
    output wire [RAW-1:0] res_raddr,
    input wire [RESW-1:0] res_rdata,
    output wire m_awvalid,
    input wire m_awready,
    output wire [AXW-1:0] m_awaddr,
    output wire [7:0] m_awlen,
    output wire m_wvalid,
    input wire m_wready,
    output wire [D-1:0] m_wdata,
    output wire m_wlast,
    input wire m_bvalid,
    output wire m_bready,
    output wire fin,
    output reg w_left,
    output wire w_last
);
    localparam FD = 4;  // FIFO depth in residual words
    localparam BEAT_BYTES = D / 8;
    localparam integer BPR_M1 = BPR - 1;
    localparam integer BMAX_LOG2 = $clog2(BMAX);  // a power of two (archsim.config)

    reg active;
    // reader
    reg [RAW:0] rd_word;
    reg rd_inflight;
    reg [RESW-1:0] fifo [0:FD-1];
    reg [1:0] f_wp, f_rp;
    reg [2:0] f_cnt;
    reg [BPRW-1:0] hb;  // beat within the head word
    wire res_re = active && (rd_word < store_words) && (f_cnt + {2'b00, rd_inflight} < FD);
    assign res_raddr = rd_word[RAW-1:0];
    wire f_has = (f_cnt != 0);
    wire [RESW-1:0] head = fifo[f_rp];
    assign m_wdata = head[hb * D +: D];

    // burst engine
    reg [BTW-1:0] beats_left;  // beats not yet assigned to a burst
    reg inb;  // a burst's W beats are under way
    reg aw_pend;  // its AW waits for AWREADY
    reg [7:0] blen_q;  // beats of the current burst
    reg [7:0] wcnt;  // beats of the current burst already sent
    reg [AXW-1:0] waddr;
    reg [OWW-1:0] outst;
    wire [BTW-1:0] blen_new = (beats_left > BMAX) ? BMAX : beats_left;
    wire go = active && !inb && !aw_pend && (beats_left != 0) && f_has && (outst < O_W);
    wire [7:0] blen_cur = go ? blen_new[7:0] : blen_q;
    assign m_awvalid = go || aw_pend;
    assign m_awaddr = waddr;
    assign m_awlen = blen_cur - 1'b1;
    assign m_wvalid = (go || inb) && f_has;
    assign m_wlast = (wcnt == blen_cur - 1'b1);
    assign m_bready = 1'b1;
    wire aw_hs = m_awvalid && m_awready;
    wire w_hs = m_wvalid && m_wready;
    wire b_hs = m_bvalid;
    wire pop = w_hs && (hb == BPR_M1[BPRW-1:0]);
    // bursts of one STORE, and the B responses of the oldest unfinished one
    wire [BTW-1:0] n_bursts = (store_beats + BMAX[BTW-1:0] - 1'b1) >> BMAX_LOG2;
    reg [BTW-1:0] bcnt;
    assign fin = b_hs && (bcnt == n_bursts - 1'b1);
    wire [BTW-1:0] left_after = go ? beats_left - blen_new : beats_left;
    assign w_last = active && w_hs && m_wlast && (left_after == 0);

    always @(posedge clk) begin
        if (rst) bcnt <= 0;
        else if (b_hs) bcnt <= fin ? {BTW{1'b0}} : bcnt + 1'b1;
    end

`ifndef SYNTHESIS
    integer i;
    initial for (i = 0; i < FD; i = i + 1) fifo[i] = {RESW{1'b0}};
`endif
    always @(posedge clk) begin
        if (rst) begin
            active <= 1'b0;
            rd_word <= 0;
            rd_inflight <= 1'b0;
            f_wp <= 0;
            f_rp <= 0;
            f_cnt <= 0;
            hb <= 0;
            beats_left <= 0;
            inb <= 1'b0;
            aw_pend <= 1'b0;
            blen_q <= 0;
            wcnt <= 0;
            waddr <= 0;
            outst <= 0;
            w_left <= 1'b0;
        end else if (init) begin
            active <= 1'b1;
            rd_word <= 0;
            rd_inflight <= 1'b0;
            f_wp <= 0;
            f_rp <= 0;
            f_cnt <= 0;
            hb <= 0;
            beats_left <= store_beats;
            inb <= 1'b0;
            aw_pend <= 1'b0;
            wcnt <= 0;
            waddr <= store_addr;
            // the previous STOREs' bursts stay outstanding (S5)
            outst <= outst - {{(OWW - 1) {1'b0}}, b_hs};
            w_left <= 1'b1;
        end else begin
            if (w_last) w_left <= 1'b0;
            // reader: data of a read issued last cycle arrives now
            rd_inflight <= res_re;
            if (res_re) rd_word <= rd_word + 1'b1;
            if (rd_inflight) begin
                fifo[f_wp] <= res_rdata;
                f_wp <= f_wp + 1'b1;
            end
            f_cnt <= f_cnt + {2'b00, rd_inflight} - {2'b00, pop};
            if (w_hs) hb <= (hb == BPR_M1[BPRW-1:0]) ? {BPRW{1'b0}} : hb + 1'b1;
            if (pop) f_rp <= f_rp + 1'b1;
            // bursts
            if (go) begin
                beats_left <= beats_left - blen_new;
                blen_q <= blen_new[7:0];
            end
            if (aw_hs) waddr <= waddr + blen_cur * BEAT_BYTES;
            aw_pend <= m_awvalid && !m_awready;
            if (w_hs) begin
                if (m_wlast) begin
                    inb <= 1'b0;
                    wcnt <= 0;
                end else begin
                    inb <= 1'b1;
                    wcnt <= wcnt + 1'b1;
                end
            end else if (go) inb <= 1'b1;
            outst <= outst + {{(OWW - 1) {1'b0}}, go} - {{(OWW - 1) {1'b0}}, b_hs};
            if (fin && outst == 1 && beats_left == 0 && !inb && !aw_pend) active <= 1'b0;
        end
    end
endmodule
`default_nettype wire
