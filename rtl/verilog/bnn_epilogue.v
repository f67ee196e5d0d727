// Epilogue (docs/architecture.md section 3, docs/timing.md 4.2 "Epilogue").
// One position and one channel slot (ROWS channels) per cycle:
//     y = (dot * mult + bias) >>> shift,   z = sat(y + r) or sat(y),   bit = z >= 0
// r is read from the residual buffer (read-modify-write), z written back, the sign
// bits written to the output activation set (one lane of the position's bank word).
// Channels beyond C_out (phantom rows of the last slot) write 0.
// It starts tile u when idle and the PE array's accumulators of tile u are final.
// Pipeline: issue t (accumulator, parameter and list reads) -> t+1 multiply, residual
// read -> t+2 add bias -> t+3 shift, residual add, saturate -> written at the end of
// t+4: outputs visible four cycles after the last epilogue cycle (lambda_epilogue = 4).
// With mpool (a 2x2 max-pool, bnn_maxpool.v) the bits go to the pooled word: its old content is
// read at t+2 on the output set's port B (ob_*), OR-ed in at t+3 with the two writes still in
// flight forwarded, written at t+4 like any word: no added cycle.
// For an early scan of the next layer (docs/timing.md 4.5, E7) it counts the complete rows of the
// layer's output: when a last-pass full tile's outputs are written, the rows up to its last position.
`default_nettype none
module bnn_epilogue #(
    parameter ROWS = 16,
    parameter CLW = 4,
    parameter GW = 3,
    parameter ACC_W = 16,
    parameter MB = 16,
    parameter BB = 32,
    parameter VB = 16,
    parameter RAW = 12,
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4,
    parameter LANES = 4,
    parameter LW = 2,
    parameter LAW = 10,
    parameter MPW = 6,
    parameter UW = 16,
    parameter LOUTW = 24,
    parameter CPW = 8,  // bits of a channel count within a pass
    parameter SLW = 1,  // log2 of the parameter slots: the pass's blob sits in slot pass mod 2^SLW
    parameter PSAW = 1  // sum-store address: the channel slot within the layer (bnn_sumstore)
) (
    input wire clk,
    input wire layer_init,
    input wire layer_active,
    input wire mask_en,
    input wire resid,
    input wire mpool,  // 2x2 max-pool into the output set (w3n_out is then the pooled map's)
    input wire [5:0] shift,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_out,
    input wire [AAW-1:0] w3n_out,
    input wire [RAW-1:0] nwo,
    input wire [UW-1:0] c_ready,
    output wire [2:0] rec_idx,
    input wire [MPW-1:0] rec_gp,
    input wire [LAW-1:0] rec_tb,
    input wire [CLW:0] rec_nt,
    output wire [MPW-1:0] pidx,
    input wire [GW:0] p_g,
    input wire [RAW-1:0] p_woff,
    input wire [AAW-1:0] p_wblk0,
    input wire [CPW-1:0] p_cpass,
    output wire e_bank,
    output wire [GW-1:0] e_slot,
    output wire [CLW-1:0] e_col,
    input wire [ROWS*ACC_W-1:0] e_dot,
    output wire [GW+SLW-1:0] prm_raddr,
    input wire [ROWS*(MB+BB)-1:0] prm_rdata,
    output wire [LAW-1:0] list_raddr,
    input wire [LOUTW-1:0] list_rdata,
    output wire [RAW-1:0] res_raddr,
    input wire [ROWS*VB-1:0] res_rdata,
    output reg res_we,
    output reg [RAW-1:0] res_waddr,
    output reg [ROWS*VB-1:0] res_wdata,
    output reg [PSAW-1:0] sum_addr,  // channel slot (c_lo / ROWS + s) of the word res_wdata holds
    output reg act_we,
    output reg [3:0] act_bank,
    output reg [AAW-1:0] act_addr,
    output reg [LW-1:0] act_lane,
    output reg [ROWS-1:0] act_data,
    output wire [AAW-1:0] ob_addr,  // mpool: the old pooled word, read in every bank of the output set's port B
    input wire [9*LANES*ROWS-1:0] ob_data,  // ... one cycle later
    output reg [UW-1:0] e_done,  // tiles whose epilogue cycles are over
    output reg [UW-1:0] e_out,  // tiles whose outputs are written
    output wire tile_end,
    input wire row_q,  // in the tile's cycles: a full tile of the last pass (its last position counts rows)
    input wire [CW:0] list_row,  // output rows complete after the listed position (with the list entry)
    output reg [CW:0] out_rows  // complete output rows (E7), before the last tile
);
    localparam PRODW = ACC_W + MB;
    localparam SUMW = (PRODW > BB ? PRODW : BB) + 1;
    localparam TOTW = SUMW + 1;
    localparam PWR = MB + BB;
    localparam integer LANES_M1 = LANES - 1;

    // ------------------------------------------------------------------ issue
    reg [UW-1:0] u;
    reg busy;
    reg [CLW-1:0] n;
    reg [GW-1:0] s;
    reg [LW-1:0] slane;
    reg [AAW-1:0] sblk;
    reg [CPW-1:0] srow;  // s * ROWS
    assign rec_idx = u[2:0];
    assign pidx = rec_gp;
    wire go = layer_active && !busy && (c_ready > u);
    wire issue = go || busy;
    wire last_s = ({1'b0, s} == p_g - 1'b1);
    wire last_n = ({1'b0, n} == rec_nt - 1'b1);
    wire tile_last = issue && last_s && last_n;
    assign tile_end = tile_last;
    assign e_bank = u[0];
    assign e_slot = s;
    assign e_col = n;
    assign prm_raddr = {rec_gp[SLW-1:0], s};
    assign list_raddr = rec_tb + {{(LAW - CLW) {1'b0}}, n};
    always @(posedge clk) begin
        if (layer_init) begin
            u <= 0;
            busy <= 1'b0;
            n <= 0;
            s <= 0;
            slane <= 0;
            sblk <= 0;
            srow <= 0;
            e_done <= 0;
        end else if (issue) begin
            busy <= !tile_last;
            if (last_s) begin
                s <= 0;
                slane <= 0;
                sblk <= 0;
                srow <= 0;
                n <= last_n ? {CLW{1'b0}} : n + 1'b1;
            end else begin
                s <= s + 1'b1;
                srow <= srow + ROWS;
                if (slane == LANES_M1[LW-1:0]) begin
                    slane <= 0;
                    sblk <= sblk + 1'b1;
                end else slane <= slane + 1'b1;
            end
            if (tile_last) begin
                u <= u + 1'b1;
                e_done <= e_done + 1'b1;
            end
        end
    end
    // raster positions for layers without a predictor
    wire [RAW-1:0] prb;
    wire [3:0] pob;
    wire [AAW-1:0] pobase;
    wire [CW-1:0] pyc, pxc;  // raster position (stride 1: output coordinates)
    /* verilator lint_off PINCONNECTEMPTY */
    // the input-window outputs of the shared position generator are not needed here
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_pos (
        .clk(clk), .init(layer_init), .adv(issue && last_s && !mask_en), .s2(1'b0),
        .h_out(h_out), .w_out(w_out), .nblk_in(nblk_out), .w3n_in(w3n_out),
        .nblk_out(nblk_out), .w3n_out(w3n_out), .nwo(nwo),
        .yc(pyc), .xc(pxc), .ycm(), .xcm(), .ibase(), .rbase(prb), .obank(pob), .obase(pobase)
    );
    /* verilator lint_on PINCONNECTEMPTY */
    wire q_first, q_drop;
    wire [3:0] q_bank;
    wire [AAW-1:0] q_base;
    bnn_maxpool #(.CW(CW), .AAW(AAW), .NCW(NCW)) u_pool (
        .clk(clk), .init(layer_init), .adv(issue && last_s && !mask_en), .h_out(h_out), .w_out(w_out),
        .nblk(nblk_out), .w3n(w3n_out), .first(q_first), .drop(q_drop), .bank(q_bank), .base(q_base)
    );

    // ------------------------------------------------------------------ stage 1: multiply, residual read
    reg v1, last1;
    reg [GW-1:0] s1;
    reg [LW-1:0] lane1;
    reg [AAW-1:0] blk1;
    reg [ROWS-1:0] rv1;  // row holds a real channel
    reg [LOUTW-1:0] pos1;
    reg [CW:0] prow1;  // raster: rows complete after the position
    reg rq1, rq2, rq3, rq4;
    reg [CW:0] row2, row3, row4;
    reg [RAW-1:0] woff1;
    reg [AAW-1:0] wblk01;
    reg [ROWS*PWR-1:0] prm1;
    reg [PSAW-1:0] sa1, sa2, sa3;  // channel slot within the layer, for the sum store
    reg qf1, qd1, qf2, qd2, qf3, qd3;  // mpool: first of the four, dropped
    reg [3:0] qb1;
    reg [AAW-1:0] qa1;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [RAW+GW:0] sa0 = {{(GW + 1) {1'b0}}, p_woff} + {{(RAW + 1) {1'b0}}, s};  // low PSAW bits used
    /* verilator lint_on UNUSEDSIGNAL */
    integer r;
    always @(posedge clk) begin
        v1 <= issue && !layer_init;
        last1 <= tile_last;
        s1 <= s;
        lane1 <= slane;
        blk1 <= sblk;
        for (r = 0; r < ROWS; r = r + 1) rv1[r] <= ({1'b0, srow} + r[CPW:0]) < {1'b0, p_cpass};
        pos1 <= {prb, pob, pobase};
        qf1 <= q_first;
        qd1 <= q_drop;
        qb1 <= q_bank;
        qa1 <= q_base;
        prow1 <= {1'b0, pyc} + {{CW{1'b0}}, pxc == w_out - 1'b1};
        rq1 <= row_q;
        woff1 <= p_woff;
        sa1 <= sa0[PSAW-1:0];
        wblk01 <= p_wblk0;
        prm1 <= prm_rdata;
    end
    wire [LOUTW-1:0] ent = mask_en ? list_rdata : pos1;
    wire [RAW-1:0] erb = ent[LOUTW-1 -: RAW];
    wire [3:0] eob = ent[AAW+3 -: 4];
    wire [AAW-1:0] eobase = ent[AAW-1:0];
    assign res_raddr = erb + woff1 + {{(RAW - GW) {1'b0}}, s1};
    always @(posedge clk) begin
        row2 <= mask_en ? list_row : prow1;
        rq2 <= rq1;
        row3 <= row2;
        rq3 <= rq2;
        row4 <= row3;
        rq4 <= rq3;
    end

    reg v2, last2;
    reg [ROWS-1:0] rv2;
    reg [RAW-1:0] ra2;
    reg [3:0] bank2;
    reg [AAW-1:0] aa2;
    reg [LW-1:0] lane2;
    // per row dot * mult (stage 1, registered) + bias (stage 2, registered): sum3 at stage 3
    wire [ROWS*SUMW-1:0] sum3;
    genvar gr;
    generate
        for (gr = 0; gr < ROWS; gr = gr + 1) begin : g_madd
            bnn_dsp_madd #(.AW(ACC_W), .BW(MB), .CW(BB), .PW(SUMW)) u_madd (
                .clk(clk), .a(e_dot[gr * ACC_W +: ACC_W]), .b(prm1[gr * PWR +: MB]), .c(prm1[gr * PWR + MB +: BB]),
                .p(sum3[gr * SUMW +: SUMW])
            );
        end
    endgenerate
    always @(posedge clk) begin
        v2 <= v1 && !layer_init;
        last2 <= last1;
        rv2 <= rv1;
        ra2 <= res_raddr;
        sa2 <= sa1;
        qf2 <= qf1;
        qd2 <= qd1;
        bank2 <= mpool ? qb1 : eob;
        aa2 <= (mpool ? qa1 : eobase) + wblk01 + blk1;
        lane2 <= lane1;
    end

    assign ob_addr = aa2;

    // ------------------------------------------------------------------ stage 2: bias; residual arrives
    reg v3, last3;
    reg [ROWS-1:0] rv3;
    reg [RAW-1:0] ra3;
    reg [3:0] bank3;
    reg [AAW-1:0] aa3;
    reg [LW-1:0] lane3;
    reg [ROWS*VB-1:0] res3;
    always @(posedge clk) begin
        v3 <= v2 && !layer_init;
        last3 <= last2;
        rv3 <= rv2;
        ra3 <= ra2;
        sa3 <= sa2;
        qf3 <= qf2;
        qd3 <= qd2;
        bank3 <= bank2;
        aa3 <= aa2;
        lane3 <= lane2;
        res3 <= res_rdata;
    end

    // ------------------------------------------------------------------ stage 3: shift, residual, saturate
    reg signed [SUMW-1:0] y;
    reg signed [TOTW-1:0] t;
    reg [VB-1:0] z;
    reg [ROWS*VB-1:0] zrow;
    reg [ROWS-1:0] brow;
    always @* begin
        for (r = 0; r < ROWS; r = r + 1) begin
            y = $signed(sum3[r * SUMW +: SUMW]) >>> shift;
            t = $signed({y[SUMW-1], y});
            if (resid) t = t + $signed({{(TOTW - VB) {res3[r * VB + VB - 1]}}, res3[r * VB +: VB]});
            if (t[TOTW-1:VB-1] == {(TOTW - VB + 1) {1'b0}} || t[TOTW-1:VB-1] == {(TOTW - VB + 1) {1'b1}})
                z = t[VB-1:0];
            else z = t[TOTW-1] ? {1'b1, {(VB - 1) {1'b0}}} : {1'b0, {(VB - 1) {1'b1}}};
            if (!rv3[r]) z = {VB{1'b0}};
            zrow[r * VB +: VB] = z;
            brow[r] = !z[VB-1];
        end
    end
    // mpool: the pooled word's bits so far: the newest of this layer's writes to it that the read at
    // stage 2 cannot see yet (the one in flight now, else the one of the read's own cycle), else the
    // word the read returned. Every write holds the OR so far, so the newest one is the whole of it.
    reg aw_d;  // act_* of the previous cycle (a write in the read's own cycle)
    reg [3:0] ab_d;
    reg [AAW-1:0] aa_d;
    reg [LW-1:0] al_d;
    reg [ROWS-1:0] ad_d;
    wire [31:0] ob_word = {28'd0, bank3} * LANES + {{(32 - LW) {1'b0}}, lane3};  // bank3's lane3
    wire [ROWS-1:0] old3 = ob_data[ob_word * ROWS +: ROWS];
    wire fw1 = act_we && act_bank == bank3 && act_addr == aa3 && act_lane == lane3;
    wire fw2 = aw_d && ab_d == bank3 && aa_d == aa3 && al_d == lane3;
    wire [ROWS-1:0] prev3 = fw1 ? act_data : fw2 ? ad_d : old3;
    wire [ROWS-1:0] bout = (mpool && !qf3) ? (brow | prev3) : brow;
    reg v4, last4;
    always @(posedge clk) begin
        v4 <= v3 && !layer_init;
        last4 <= last3;
        res_we <= v3 && !layer_init;
        res_waddr <= ra3;
        sum_addr <= sa3;
        res_wdata <= zrow;
        act_we <= v3 && !layer_init && !(mpool && qd3);
        act_bank <= bank3;
        act_addr <= aa3;
        act_lane <= lane3;
        act_data <= bout;
        aw_d <= act_we && !layer_init;
        ab_d <= act_bank;
        aa_d <= act_addr;
        al_d <= act_lane;
        ad_d <= act_data;
    end
    always @(posedge clk) begin
        if (layer_init) e_out <= 0;
        else if (v4 && last4) e_out <= e_out + 1'b1;
    end
    always @(posedge clk) begin
        if (layer_init) out_rows <= 0;
        else if (v4 && last4 && rq4) out_rows <= row4;
    end
endmodule
`default_nettype wire
