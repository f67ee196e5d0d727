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
    parameter M3 = 1
) (
    input wire clk,
    input wire layer_init,
    input wire layer_active,
    input wire k3,
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
    output reg p2_v,
    output reg [MW-1:0] p2_sub,
    output reg [GW-1:0] p2_j,
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
    assign rec_idx = u[2:0];
    assign pidx = rec_gp;
    // T2: a tile's record (pass, size) is written when its gather starts, before either count passes u
    wire early;
    generate
        if (BA >= (1 << CLW)) begin : g_ba_wide
            assign early = (p_k != 0);  // BA k >= BA >= n_t for any k >= 1
        end else begin : g_ba_narrow
            localparam [GW+CLW+1:0] BA_W = BA;
            assign early = ({{(CLW + 1) {1'b0}}, p_k} * BA_W) >= {{(GW + 1) {1'b0}}, rec_nt};
        end
    endgenerate
    wire win_ok = early ? (g_first > u) : (g_ready > u);
    wire go = layer_active && !busy && win_ok && ((u < 2) || (e_done >= u - 1'b1)) &&
        (loaded_cnt > {1'b0, rec_gp});
    wire issue = go || busy;
    wire last_step = (cnt == p_steps - 1'b1);
    wire [MW-1:0] m_last = k3 ? M3_M1[MW-1:0] : M1_M1[MW-1:0];
    assign w_raddr = p_wbase + {1'b0, e};  // wraps modulo the ring's 2^(WAW+1) entries
    assign wb_rbuf = u[0];
    assign wb_rblk = cblk;
    assign wb_rbit = cbit;
    always @(posedge clk) begin
        if (layer_init) begin
            u <= 0;
            busy <= 1'b0;
            cnt <= 0;
            j <= 0;
            cbit <= 0;
            cblk <= 0;
            e <= 0;
            sub <= 0;
            c_done <= 0;
        end else if (issue) begin
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
            end else begin
                busy <= 1'b1;
                cnt <= cnt + 1'b1;
                if ({1'b0, j} == p_k - 1'b1) begin
                    j <= 0;
                    if (cbit == BA_M1[BIW-1:0]) begin
                        cbit <= 0;
                        cblk <= cblk + 1'b1;
                    end else cbit <= cbit + 1'b1;
                end else j <= j + 1'b1;
                if (sub == m_last) begin
                    sub <= 0;
                    e <= e + 1'b1;
                end else sub <= sub + 1'b1;
            end
        end
    end
    reg p1_v, p1_bank, p1_first, p1_last;
    reg [MW-1:0] p1_sub;
    reg [GW-1:0] p1_j;
    always @(posedge clk) begin
        p1_v <= issue && !layer_init;
        p1_sub <= sub;
        p1_j <= j;
        p1_bank <= u[0];
        p1_first <= (cnt == 0);
        p1_last <= last_step;
        p2_v <= p1_v && !layer_init;
        p2_sub <= p1_sub;
        p2_j <= p1_j;
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
    parameter UW = 16
) (
    input wire clk,
    input wire layer_init,
    input wire k3,
    // stage t+2 inputs
    input wire p2_v,
    input wire [MW-1:0] p2_sub,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [GW-1:0] p2_j,  // the dense build's slot; a sparse build decodes it from the step
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
    localparam F3 = 9 + IB;  // bits per row of a 3x3 step
    localparam F1 = 1 + IB;  // of a 1x1 step
    localparam SB3 = ROWS * F3;
    localparam SB1 = ROWS * F1;

    // ------------------------------------------------------------------ stage A: decode the step
    reg [SB3-1:0] st3;
    reg [SB1-1:0] st1;
    integer i;
    always @* begin
        st3 = {SB3{1'b0}};
        st1 = {SB1{1'b0}};
        for (i = 0; i < M3; i = i + 1)
            if (p2_sub == i[MW-1:0]) st3 = wentry[i * SB3 +: SB3];
        for (i = 0; i < M1; i = i + 1)
            if (p2_sub == i[MW-1:0]) st1 = wentry[i * SB1 +: SB1];
    end
    reg a_v, a_bank, a_first, a_last;
    reg [9*ROWS-1:0] a_kern;
    reg [GW*ROWS-1:0] a_slot;
    reg [9*COLS-1:0] a_win, a_msk;
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_dec
            wire [8:0] k9 = k3 ? st3[r * F3 +: 9] : {4'b0000, st1[r * F1], 4'b0000};
            wire [GW-1:0] sl;
            if (SPARSE != 0) begin : g_sp
                // sparse index decoder: the index field is the accumulator slot
                wire [GW-1:0] s3 = st3[r * F3 + 9 +: IB];
                wire [GW-1:0] s1 = st1[r * F1 + 1 +: IB];
                assign sl = k3 ? s3 : s1;
            end else begin : g_dn
                assign sl = p2_j;  // dense: index decoder bypassed, slot = step
            end
            always @(posedge clk) begin
                a_kern[r * 9 +: 9] <= k9;
                a_slot[r * GW +: GW] <= sl;
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

    // ------------------------------------------------------------------ stage C: accumulate
    localparam NS = 1 << GW;  // slots per bank as addressed: {bank, slot}
    reg [2*NS-1:0] vbit [0:ROWS-1];  // slot written in the current tile, per bank
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            wire [GW-1:0] slot = b_slot[r * GW +: GW];
            wire [GW:0] waddr = {b_bank, slot};
            wire fresh = b_first || !vbit[r][waddr];
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
                // value of this step: 2 popcount(XNOR(w, a) & m) - popcount(m), in -9..9
                wire [8:0] x = ~(a_kern[r * 9 +: 9] ^ a_win[c * 9 +: 9]) & a_msk[c * 9 +: 9];
                wire [3:0] pc;
                bnn_pc9 u_pc (.v(x), .cnt(pc));
                reg signed [5:0] val;
                always @(posedge clk) val <= $signed({1'b0, pc, 1'b0}) - $signed({2'b00, pm[c * 4 +: 4]});
                wire [ACC_S-1:0] old;
                wire [ACC_S-1:0] eword;
                wire [ACC_S-1:0] sum = (fresh ? {ACC_S{1'b0}} : old) + {{(ACC_S - 6) {val[5]}}, val};
                bnn_lutram2 #(.W(ACC_S), .AW(GW + 1), .DEPTH(2 * NS)) u_acc (
                    .clk(clk), .we(b_v), .waddr(waddr), .wdata(sum),
                    .raddr_a(waddr), .rdata_a(old), .raddr_b({e_bank, e_slot}), .rdata_b(eword)
                );
                assign erow[c * ACC_S +: ACC_S] = eword;
            end
            // epilogue read: column e_col of this row; a slot not written in the tile is 0
            wire [GW:0] eaddr = {e_bank, e_slot};
            wire [ACC_S-1:0] esel = erow[e_col * ACC_S +: ACC_S];
            always @(posedge clk)
                e_dot[r * ACC_W +: ACC_W] <= vbit[r][eaddr] ? {{(ACC_W - ACC_S) {esel[ACC_S-1]}}, esel} : {ACC_W{1'b0}};
        end
    endgenerate
    always @(posedge clk) begin
        if (layer_init) c_ready <= 0;
        else if (b_v && b_last) c_ready <= c_ready + 1'b1;
    end
endmodule
`default_nettype wire
