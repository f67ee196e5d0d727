// PE array (docs/timing.md 4.2, "PE array") and its sequencer.
//
// bnn_pe_ctl issues one step per cycle: step c*k + j of input channel c, j-th kept
// kernel of every row. It starts tile u when the array is idle, window buffer u mod 2
// is usable, accumulator bank u mod 2 has been read by the epilogue (tile u-2 done)
// and the pass's blob is loaded. "Usable" (docs/timing.md 4.2, rule T2): the gather
// writes the tile block-major, one block in n_t cycles, and the array reads a block in
// BA k steps; when BA k >= n_t it never overtakes the gather, so the tile's first block
// suffices (`g_first`, first sweep + lambda_gather), else the whole tile (`g_ready`).
//
// Split tiles (SPLIT, docs/timing.md 4.2, rule T3): a tile of at most COLS/2 positions
// holds each position in column i and i + COLS/2 (the gather writes both), and the two
// halves take alternate steps, two per cycle from one weight entry (only in a layer whose
// kernel size has an even number of steps per entry, `split_en`, so a pair never straddles two). The
// upper half gets its own decoded kernels, slots, valid bits and window-buffer channel;
// the epilogue's read of column i of a split tile returns the sum of columns i and
// i + COLS/2. Without SPLIT (or for a larger tile) the upper half takes the same step.
//
// bnn_pe_array: ROWS x COLS processing elements. Every row gets its kernel (9 bits)
// and channel slot of the step (the sparse index decoder: slot = the step's index
// field; bypassed in dense mode: slot = j), every column the 3x3 window bits of its
// position for channel c (broadcast to all rows: no per-PE activation multiplexer).
// PE (r, x) adds 2 popcount(XNOR(w, a) & m) - popcount(m) into accumulator slot
// {bank, slot} of a LUT RAM. Per (row, bank, slot) a valid bit marks slots written in
// the current tile: the first write of a tile overwrites, an unwritten slot reads 0.
// Pipeline: issue t -> t+1 memories -> t+2 registered weight entry and window bits ->
// t+3 decoded kernels -> t+4 values -> accumulator written at the end of t+4, so the
// accumulators are final four cycles after the last step (lambda_compute = 4).
`default_nettype none
/* verilator lint_off DECLFILENAME */
// Two modules: the PE array's sequencer and the array itself.
module bnn_pe_ctl #(
    parameter MPW = 6,
    parameter UW = 16,
    parameter CLW = 4,
    parameter SW = 13,
    parameter GW = 3,
    parameter BA = 64,
    parameter BIW = 6,
    parameter NBW = 3,
    parameter WAW = 12,
    parameter MW = 1,
    parameter M1 = 3,
    parameter M3 = 1,
    parameter COLS = 16,  // PE columns: a tile of at most COLS/2 positions is split
    parameter SPLIT = 0  // split tiles (rule T3)
) (
    input wire clk,
    input wire layer_init,
    input wire layer_active,
    input wire k3,
    input wire split_en,  // the layer's tiles may be split (T3: SPLIT and an even number of its steps per entry)
    input wire [UW-1:0] g_first,
    input wire [UW-1:0] g_ready,
    input wire [UW-1:0] e_done,
    input wire [MPW:0] loaded_cnt,
    output wire [2:0] rec_idx,
    input wire [MPW-1:0] rec_gp,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [CLW:0] rec_nt,  // tile u's size n_t (unused when BA >= COLS: then BA k >= n_t always)
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [MPW-1:0] pidx,
    input wire [GW:0] p_k,
    input wire [SW-1:0] p_steps,
    input wire [WAW:0] p_wbase,  // the pass's first weight-ring entry
    output wire [WAW:0] w_raddr,
    output wire wb_rbuf,
    output wire [NBW-1:0] wb_rblk,
    output wire [BIW-1:0] wb_rbit,
    output wire [NBW-1:0] wb_rblk_b,  // the upper half's channel (the odd step's of a split tile)
    output wire [BIW-1:0] wb_rbit_b,
    output reg p2_v,
    output reg [MW-1:0] p2_sub,
    output reg [GW-1:0] p2_j,
    output reg p2_vb,  // the upper half's step is real (a split tile's last pair may hold one step)
    output reg [MW-1:0] p2_sub_b,
    output reg [GW-1:0] p2_j_b,
    output reg p2_split,
    output reg p2_bank,
    output reg p2_first,
    output reg p2_last,
    output reg [UW-1:0] c_done
);
    localparam integer BA_M1 = BA - 1;
    localparam integer M1_M1 = M1 - 1;
    localparam integer M3_M1 = M3 - 1;
    reg [UW-1:0] u;
    reg busy;
    reg [SW-1:0] cnt;
    reg [GW-1:0] j;
    reg [BIW-1:0] cbit;
    reg [NBW-1:0] cblk;
    reg [WAW-1:0] e;
    reg [MW-1:0] sub;
    localparam [CLW:0] HALF = COLS / 2;
    reg sp;  // the running tile is split (T3)
    assign rec_idx = u[2:0];
    assign pidx = rec_gp;
    // T3: the next tile (its record is written when its gather starts) is split
    wire sp_next = (SPLIT != 0) && split_en && (rec_nt <= HALF);
    // T2: a tile's record (pass, size) is written when its gather starts, before either count passes u;
    // a split tile reads a block in BA k / 2 cycles, so it compares BA k with 2 n_t
    wire early;
    generate
        if (BA >= (1 << CLW)) begin : g_ba_wide
            assign early = (p_k != 0);  // BA k >= BA >= n_t (>= 2 n_t when split) for any k >= 1
        end else begin : g_ba_narrow
            localparam [GW+CLW+1:0] BA_W = BA;
            wire [CLW+1:0] need = sp_next ? {rec_nt, 1'b0} : {1'b0, rec_nt};
            assign early = ({{(CLW + 1) {1'b0}}, p_k} * BA_W) >= {{GW {1'b0}}, need};
        end
    endgenerate
    wire win_ok = early ? (g_first > u) : (g_ready > u);
    wire go = layer_active && !busy && win_ok && ((u < 2) || (e_done >= u - 1'b1)) &&
        (loaded_cnt > {1'b0, rec_gp});
    wire issue = go || busy;
    wire sp_cur = go ? sp_next : sp;
    wire one_left = (cnt == p_steps - 1'b1);  // the step at cnt is the tile's last
    localparam [SW-1:0] TWO = 2;
    wire last_step = one_left || (sp_cur && (cnt == p_steps - TWO));
    wire [MW-1:0] m_last = k3 ? M3_M1[MW-1:0] : M1_M1[MW-1:0];
    // the step after the one at the counters (the upper half's, when split), and the one after that
    wire j_wrap = ({1'b0, j} == p_k - 1'b1);
    wire cbit_wrap = (cbit == BA_M1[BIW-1:0]);
    wire [GW-1:0] j_a = j_wrap ? {GW{1'b0}} : j + 1'b1;
    wire [BIW-1:0] cbit_a = j_wrap ? (cbit_wrap ? {BIW{1'b0}} : cbit + 1'b1) : cbit;
    wire [NBW-1:0] cblk_a = (j_wrap && cbit_wrap) ? cblk + 1'b1 : cblk;
    wire [MW-1:0] sub_a = (sub == m_last) ? {MW{1'b0}} : sub + 1'b1;
    wire [WAW-1:0] e_a = (sub == m_last) ? e + 1'b1 : e;
    wire j_wrap_a = ({1'b0, j_a} == p_k - 1'b1);
    wire cbit_wrap_a = (cbit_a == BA_M1[BIW-1:0]);
    wire [GW-1:0] j_b = j_wrap_a ? {GW{1'b0}} : j_a + 1'b1;
    wire [BIW-1:0] cbit_b = j_wrap_a ? (cbit_wrap_a ? {BIW{1'b0}} : cbit_a + 1'b1) : cbit_a;
    wire [NBW-1:0] cblk_b = (j_wrap_a && cbit_wrap_a) ? cblk_a + 1'b1 : cblk_a;
    wire [MW-1:0] sub_b = (sub_a == m_last) ? {MW{1'b0}} : sub_a + 1'b1;
    wire [WAW-1:0] e_b = (sub_a == m_last) ? e_a + 1'b1 : e_a;
    assign w_raddr = p_wbase + {1'b0, e};  // wraps modulo the ring's 2^(WAW+1) entries
    assign wb_rbuf = u[0];
    assign wb_rblk = cblk;
    assign wb_rbit = cbit;
    assign wb_rblk_b = sp_cur ? cblk_a : cblk;
    assign wb_rbit_b = sp_cur ? cbit_a : cbit;
    always @(posedge clk) begin
        if (layer_init) begin
            u <= 0;
            busy <= 1'b0;
            sp <= 1'b0;
            cnt <= 0;
            j <= 0;
            cbit <= 0;
            cblk <= 0;
            e <= 0;
            sub <= 0;
            c_done <= 0;
        end else if (issue) begin
            if (go) sp <= sp_next;
            if (last_step) begin
                busy <= 1'b0;
                u <= u + 1'b1;
                c_done <= c_done + 1'b1;
                cnt <= 0;
                j <= 0;
                cbit <= 0;
                cblk <= 0;
                e <= 0;
                sub <= 0;
            end else if (sp_cur) begin  // two steps: the lower half's and the upper half's
                busy <= 1'b1;
                cnt <= cnt + TWO;
                j <= j_b;
                cbit <= cbit_b;
                cblk <= cblk_b;
                sub <= sub_b;
                e <= e_b;
            end else begin
                busy <= 1'b1;
                cnt <= cnt + 1'b1;
                j <= j_a;
                cbit <= cbit_a;
                cblk <= cblk_a;
                sub <= sub_a;
                e <= e_a;
            end
        end
    end
    reg p1_v, p1_vb, p1_split, p1_bank, p1_first, p1_last;
    reg [MW-1:0] p1_sub, p1_sub_b;
    reg [GW-1:0] p1_j, p1_j_b;
    always @(posedge clk) begin
        p1_v <= issue && !layer_init;
        p1_vb <= issue && !layer_init && !(sp_cur && one_left);
        p1_split <= sp_cur;
        p1_sub <= sub;
        p1_j <= j;
        p1_sub_b <= sp_cur ? sub_a : sub;
        p1_j_b <= sp_cur ? j_a : j;
        p1_bank <= u[0];
        p1_first <= (cnt == 0);
        p1_last <= last_step;
        p2_v <= p1_v && !layer_init;
        p2_vb <= p1_vb && !layer_init;
        p2_split <= p1_split;
        p2_sub <= p1_sub;
        p2_j <= p1_j;
        p2_sub_b <= p1_sub_b;
        p2_j_b <= p1_j_b;
        p2_bank <= p1_bank;
        p2_first <= p1_first;
        p2_last <= p1_last;
    end
endmodule

module bnn_pe_array #(
    parameter ROWS = 16,
    parameter COLS = 16,
    parameter CLW = 4,
    parameter GW = 3,
    parameter ACC_W = 16,
    parameter ACC_S = 16,  // bits stored: enough for |dot| <= 9 x the largest C_in (<= ACC_W)
    parameter IB = 3,
    parameter SPARSE = 1,
    parameter E_MEM = 192,
    parameter MW = 1,
    parameter M1 = 3,
    parameter M3 = 1,
    parameter UW = 16,
    parameter SPLIT = 0  // split tiles (rule T3): the upper half of the columns takes its own step
) (
    input wire clk,
    input wire layer_init,
    input wire k3,
    // stage t+2 inputs
    input wire p2_v,
    input wire [MW-1:0] p2_sub,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [GW-1:0] p2_j,  // the dense build's slot; a sparse build decodes it from the step
    // the upper half's step (the same as the lower half's unless the tile is split; used with SPLIT)
    input wire p2_vb,
    input wire [MW-1:0] p2_sub_b,
    input wire [GW-1:0] p2_j_b,
    input wire p2_split,
    /* verilator lint_on UNUSEDSIGNAL */
    input wire p2_bank,
    input wire p2_first,
    input wire p2_last,
    input wire [E_MEM-1:0] wentry,
    input wire [9*COLS-1:0] win,
    input wire [9*COLS-1:0] msk,
    // epilogue read port (address in cycle t, data registered out in t+1)
    input wire e_bank,
    input wire [GW-1:0] e_slot,
    input wire [CLW-1:0] e_col,
    output reg [ROWS*ACC_W-1:0] e_dot,
    output reg [UW-1:0] c_ready  // tiles whose accumulators are final
);
    localparam integer HALF = COLS / 2;
    localparam NS = 1 << GW;  // slots per bank as addressed: {bank, slot}

    // ------------------------------------------------------------------ stage A: decode the step(s)
    reg a_v, a_bank, a_first, a_last;
    reg [9*ROWS-1:0] a_kern;
    reg [GW*ROWS-1:0] a_slot;
    wire [9*ROWS-1:0] a_kern_b;  // the upper half's (= a_kern without SPLIT)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [GW*ROWS-1:0] a_slot_b;  // read only with SPLIT
    /* verilator lint_on UNUSEDSIGNAL */
    reg [9*COLS-1:0] a_win, a_msk;
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_dec
            bnn_pe_decode #(.ROWS(ROWS), .R(r), .GW(GW), .IB(IB), .SPARSE(SPARSE), .E_MEM(E_MEM), .MW(MW),
                .M1(M1), .M3(M3)) u_dec (
                .clk(clk), .k3(k3), .sub(p2_sub), .j(p2_j), .wentry(wentry),
                .kern(a_kern[r * 9 +: 9]), .slot(a_slot[r * GW +: GW])
            );
            if (SPLIT != 0) begin : g_dec_b
                wire [8:0] kb;
                wire [GW-1:0] sb;
                bnn_pe_decode #(.ROWS(ROWS), .R(r), .GW(GW), .IB(IB), .SPARSE(SPARSE), .E_MEM(E_MEM), .MW(MW),
                    .M1(M1), .M3(M3)) u_dec (
                    .clk(clk), .k3(k3), .sub(p2_sub_b), .j(p2_j_b), .wentry(wentry), .kern(kb), .slot(sb)
                );
                assign a_kern_b[r * 9 +: 9] = kb;
                assign a_slot_b[r * GW +: GW] = sb;
            end else begin : g_same_b
                assign a_kern_b[r * 9 +: 9] = a_kern[r * 9 +: 9];
                assign a_slot_b[r * GW +: GW] = a_slot[r * GW +: GW];
            end
        end
    endgenerate
    always @(posedge clk) begin
        a_v <= p2_v && !layer_init;
        a_bank <= p2_bank;
        a_first <= p2_first;
        a_last <= p2_last;
        a_win <= win;
        a_msk <= msk;
    end

    // ------------------------------------------------------------------ stage B: XNOR-popcount
    reg b_v, b_bank, b_first, b_last;
    reg [GW*ROWS-1:0] b_slot;
    always @(posedge clk) begin
        b_v <= a_v && !layer_init;
        b_bank <= a_bank;
        b_first <= a_first;
        b_last <= a_last;
        b_slot <= a_slot;
    end
    wire [4*COLS-1:0] pm;  // popcount of each column's padding mask
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_pm
            bnn_pc9 u_pm (.v(a_msk[c * 9 +: 9]), .cnt(pm[c * 4 +: 4]));
        end
    endgenerate
    // the upper half's step: real (a split tile's last pair may hold one step), its slots; the bank's split
    wire b_vb;
    wire [GW*ROWS-1:0] b_slot_b;
    wire e_split;  // the tile in the bank the epilogue reads is split: it adds the halves
    generate
        if (SPLIT != 0) begin : g_split
            reg a_vb, a_split, b_vb_r, b_split;
            reg [GW*ROWS-1:0] b_slot_b_r;
            reg [1:0] sp_bank;
            always @(posedge clk) begin
                a_vb <= p2_vb && !layer_init;
                a_split <= p2_split;
                b_vb_r <= a_vb && !layer_init;
                b_split <= a_split;
                b_slot_b_r <= a_slot_b;
                if (layer_init) sp_bank <= 2'b00;
                else if (b_v && b_first) sp_bank[b_bank] <= b_split;
            end
            assign b_vb = b_vb_r;
            assign b_slot_b = b_slot_b_r;
            assign e_split = sp_bank[e_bank];
        end else begin : g_nosplit
            assign b_vb = b_v;
            assign b_slot_b = b_slot;
            assign e_split = 1'b0;
        end
    endgenerate

    // the epilogue's read, indexed once for all rows: the side of e_col (lower half, upper half, an odd last
    // column) and its index within the half; a split tile reads column e_col of both halves
    localparam integer HW = (HALF > 1) ? $clog2(HALF) : 1;
    /* verilator lint_off UNUSEDSIGNAL */  // read only with SPLIT
    wire [CLW-1:0] e_up = e_col - HALF[CLW-1:0];
    localparam integer TWO_HALF = 2 * HALF;
    localparam [CLW:0] HALF_W = HALF[CLW:0];
    localparam [CLW:0] TWO_HALF_W = TWO_HALF[CLW:0];
    wire [1:0] e_side = ({1'b0, e_col} < HALF_W) ? 2'd0 : ({1'b0, e_col} < TWO_HALF_W) ? 2'd1 : 2'd2;
    wire [HW-1:0] e_lidx = e_col[HW-1:0];
    wire [HW-1:0] e_hidx = e_split ? e_col[HW-1:0] : e_up[HW-1:0];
    /* verilator lint_on UNUSEDSIGNAL */

    // ------------------------------------------------------------------ stage C: accumulate
    reg [2*NS-1:0] vbit [0:ROWS-1];  // slot written in the current tile, per bank (the lower half's)
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            wire [GW:0] waddr = {b_bank, b_slot[r * GW +: GW]};
            wire [GW:0] waddr_b = {b_bank, b_slot_b[r * GW +: GW]};
            wire fresh = b_first || !vbit[r][waddr];
            wire fresh_b;  // the upper half's (= fresh without SPLIT)
            always @(posedge clk) begin
                if (layer_init) vbit[r] <= {(2 * NS) {1'b0}};
                else if (b_v) begin
                    if (b_first) begin
                        if (b_bank) vbit[r][2*NS-1:NS] <= {NS{1'b0}};
                        else vbit[r][NS-1:0] <= {NS{1'b0}};
                    end
                    vbit[r][waddr] <= 1'b1;
                end
            end
            wire [COLS*ACC_S-1:0] erow;
            for (c = 0; c < COLS; c = c + 1) begin : g_pe
                localparam integer HC = (SPLIT != 0 && c >= HALF && c < 2 * HALF) ? 1 : 0;  // the column's half
                wire [8:0] kern = (HC != 0) ? a_kern_b[r * 9 +: 9] : a_kern[r * 9 +: 9];
                wire [GW:0] pa = (HC != 0) ? waddr_b : waddr;
                wire pf = (HC != 0) ? fresh_b : fresh;
                wire pwe = (HC != 0) ? b_vb : b_v;
                // value of this step: 2 popcount(XNOR(w, a) & m) - popcount(m), in -9..9
                wire [8:0] x = ~(kern ^ a_win[c * 9 +: 9]) & a_msk[c * 9 +: 9];
                wire [3:0] pc;
                bnn_pc9 u_pc (.v(x), .cnt(pc));
                reg signed [5:0] val;
                always @(posedge clk) val <= $signed({1'b0, pc, 1'b0}) - $signed({2'b00, pm[c * 4 +: 4]});
                wire [ACC_S-1:0] old;
                wire [ACC_S-1:0] eword;
                wire [ACC_S-1:0] sum = (pf ? {ACC_S{1'b0}} : old) + {{(ACC_S - 6) {val[5]}}, val};
                bnn_lutram2 #(.W(ACC_S), .AW(GW + 1), .DEPTH(2 * NS)) u_acc (
                    .clk(clk), .we(pwe), .waddr(pa), .wdata(sum),
                    .raddr_a(pa), .rdata_a(old), .raddr_b({e_bank, e_slot}), .rdata_b(eword)
                );
                assign erow[c * ACC_S +: ACC_S] = eword;
            end
            // epilogue read: column e_col of this row; a slot not written in the tile is 0
            wire [GW:0] eaddr = {e_bank, e_slot};
            if (SPLIT != 0) begin : g_hi
                // the upper half's valid bits; a split tile's read adds column e_col + HALF (T3)
                reg [2*NS-1:0] vb;
                always @(posedge clk) begin
                    if (layer_init) vb <= {(2 * NS) {1'b0}};
                    else if (b_v) begin
                        if (b_first) begin  // a new tile in the bank: both halves start from 0
                            if (b_bank) vb[2*NS-1:NS] <= {NS{1'b0}};
                            else vb[NS-1:0] <= {NS{1'b0}};
                        end
                        if (b_vb) vb[waddr_b] <= 1'b1;
                    end
                end
                assign fresh_b = b_first || !vb[waddr_b];
                // the column multiplexer as its two halves (and an odd last column): the halves' outputs are
                // the single read's candidates and, added, a split tile's value, so only an adder is extra
                wire [ACC_S-1:0] wlo = erow[e_lidx * ACC_S +: ACC_S];
                wire [ACC_S-1:0] whi = erow[(HALF_W + {{(CLW + 1 - HW) {1'b0}}, e_hidx}) * ACC_S +: ACC_S];
                wire [ACC_S-1:0] wodd = erow[(COLS - 1) * ACC_S +: ACC_S];
                wire [ACC_S-1:0] esel = (e_side == 2'd0) ? wlo : (e_side == 2'd1) ? whi : wodd;
                wire [ACC_W-1:0] e_one = vbit[r][eaddr] ? {{(ACC_W - ACC_S) {esel[ACC_S-1]}}, esel} : {ACC_W{1'b0}};
                wire [ACC_W-1:0] e_a = vbit[r][eaddr] ? {{(ACC_W - ACC_S) {wlo[ACC_S-1]}}, wlo} : {ACC_W{1'b0}};
                wire [ACC_W-1:0] e_b = vb[eaddr] ? {{(ACC_W - ACC_S) {whi[ACC_S-1]}}, whi} : {ACC_W{1'b0}};
                always @(posedge clk) e_dot[r * ACC_W +: ACC_W] <= e_split ? e_a + e_b : e_one;
            end else begin : g_lo
                assign fresh_b = fresh;
                wire [ACC_S-1:0] esel = erow[e_col * ACC_S +: ACC_S];
                always @(posedge clk)
                    e_dot[r * ACC_W +: ACC_W] <= vbit[r][eaddr] ? {{(ACC_W - ACC_S) {esel[ACC_S-1]}}, esel} : {ACC_W{1'b0}};
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (layer_init) c_ready <= 0;
        else if (b_v && b_last) c_ready <= c_ready + 1'b1;
    end
endmodule

// One row's decoder of a step (stage A): the row's 3x3 kernel (or 1x1 tap, in the centre) and its
// accumulator slot from the weight entry's step `sub`; registered. Sparse: the slot is the step's
// index field (the sparse index decoder); dense: the slot is the kernel's place j in the channel.
module bnn_pe_decode #(
    parameter ROWS = 16,
    parameter R = 0,  // the row
    parameter GW = 3,
    parameter IB = 3,
    parameter SPARSE = 1,
    parameter E_MEM = 192,
    parameter MW = 1,
    parameter M1 = 3,
    parameter M3 = 1
) (
    input wire clk,
    input wire k3,
    input wire [MW-1:0] sub,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [GW-1:0] j,  // dense only
    input wire [E_MEM-1:0] wentry,  // the row reads its fields of the selected step only
    /* verilator lint_on UNUSEDSIGNAL */
    output reg [8:0] kern,
    output reg [GW-1:0] slot
);
    localparam F3 = 9 + IB;
    localparam F1 = 1 + IB;
    localparam SB3 = ROWS * F3;
    localparam SB1 = ROWS * F1;
    reg [F3-1:0] f3;
    reg [F1-1:0] f1;
    integer i;
    always @* begin
        f3 = {F3{1'b0}};
        f1 = {F1{1'b0}};
        for (i = 0; i < M3; i = i + 1)
            if (sub == i[MW-1:0]) f3 = wentry[i * SB3 + R * F3 +: F3];
        for (i = 0; i < M1; i = i + 1)
            if (sub == i[MW-1:0]) f1 = wentry[i * SB1 + R * F1 +: F1];
    end
    wire [8:0] k9 = k3 ? f3[8:0] : {4'b0000, f1[0], 4'b0000};
    wire [GW-1:0] sl;
    generate
        if (SPARSE != 0) begin : g_sp
            wire [GW-1:0] s3 = f3[9 +: IB];
            wire [GW-1:0] s1 = f1[1 +: IB];
            assign sl = k3 ? s3 : s1;
        end else begin : g_dn
            assign sl = j;
        end
    endgenerate
    always @(posedge clk) begin
        kern <= k9;
        slot <= sl;
    end
endmodule
`default_nettype wire
