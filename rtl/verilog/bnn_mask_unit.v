// Spatial mask unit (docs/architecture.md section 3, docs/timing.md 4.1).
// Scans a layer's output positions in raster order, one (position, channel block)
// per cycle. For each it reads the nine banks of the window (port B of the input set)
// and the predictor weights of the block, and accumulates
//     score += 2 popcount(XNOR(a, u) & valid) - popcount(valid)
// (valid: tap inside the map and channel < C_in). After the last block of a position,
// active = score >= threshold appends the position to the active list. For stride-1
// layers it also copies each position's centre word to the output set, so skipped
// positions output their input bits.
// Pipeline: issue t (bank/predictor addresses) -> t+1 per-tap popcounts -> t+2 score
// -> t+3 list append. A position's entry is visible 3 cycles after its last block
// (lambda_mask = 3); `done` after the last position's.
`default_nettype none
module bnn_mask_unit #(
    parameter BA = 64,
    parameter BAW = 7,  // bits of a 0..BA count
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4,
    parameter NBW = 3,
    parameter RAW = 12,
    parameter PSW = 12,
    parameter LAW = 10,
    parameter MPW = 6,
    parameter COLS = 16,
    parameter TW = 12,
    parameter LINW = 24,  // list entry, gather side
    parameter LOUTW = 24,  // list entry, epilogue side
    parameter SLW = 1  // log2 of the predictor slots: layer's blob in slot first_pass mod 2^SLW
) (
    input wire clk,
    input wire layer_init,
    input wire layer_active,
    input wire mask_en,
    input wire copy_en,
    input wire k3,
    input wire [MPW:0] loaded_cnt,
    input wire [MPW-1:0] first_pass,
    input wire s2,
    input wire in_x,  // the layer reads the input buffer: wait for LOADed rows (docs/timing.md 4.4)
    input wire [CW:0] rows_cnt,
    input wire [CW-1:0] h_in,
    input wire [CW-1:0] w_in,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_in,
    input wire [AAW-1:0] w3n_in,
    input wire [NCW-1:0] nblk_out,
    input wire [AAW-1:0] w3n_out,
    input wire [RAW-1:0] nwo,
    input wire [PSW-1:0] positions,
    input wire [BAW-1:0] cv_last,  // valid channels in the last block
    input wire [31:0] threshold,
    // predictor memory (synchronous read)
    output wire [NBW+SLW-1:0] pr_raddr,
    input wire [9*BA-1:0] pr_rdata,
    // activation banks, port B of the input set / of the output set
    output wire [9*AAW-1:0] mb_addr,
    input wire [9*BA-1:0] mb_data,
    output reg cp_en,
    output reg [3:0] cp_bank,
    output reg [AAW-1:0] cp_addr,
    output wire [BA-1:0] cp_data,
    // active list
    output wire list_we,
    output wire [LAW-1:0] list_waddr,
    output wire [LINW-1:0] list_win,
    output wire [LOUTW-1:0] list_wout,
    output reg [PSW-1:0] list_cnt,
    output reg done,
    output wire fin,  // `done` is set at the end of this cycle
    output wire [TW-1:0] n_tiles_next  // tiles per pass, including an entry appended this cycle
);
    // ------------------------------------------------------------------ scan (issue stage)
    reg started, scanning;
    reg [NCW-1:0] blk;
    reg [PSW-1:0] pcnt;
    wire go = layer_active && mask_en && !started && (loaded_cnt > {1'b0, first_pass});
    wire [CW-1:0] yc, xc;
    // a position's window needs input rows up to min(h_in - 1, yc + 1) (3x3) or yc (1x1): checked
    // before its first channel block
    wire rows_ok = !in_x || (rows_cnt == {1'b0, h_in}) || (rows_cnt > {1'b0, yc} + {{CW{1'b0}}, k3});
    wire issue = (go || scanning) && (blk != 0 || rows_ok);
    wire last_blk = (blk == nblk_in - 1'b1);
    wire last_pos = (pcnt == positions - 1'b1);
    wire [1:0] ycm, xcm;
    wire [AAW-1:0] ibase, obase;
    wire [RAW-1:0] rbase;
    wire [3:0] obank;
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_pos (
        .clk(clk), .init(layer_init), .adv(issue && last_blk), .s2(s2),
        .h_out(h_out), .w_out(w_out), .nblk_in(nblk_in), .w3n_in(w3n_in),
        .nblk_out(nblk_out), .w3n_out(w3n_out), .nwo(nwo),
        .yc(yc), .xc(xc), .ycm(ycm), .xcm(xcm), .ibase(ibase), .rbase(rbase), .obank(obank), .obase(obase)
    );
    wire [8:0] tvalid;
    bnn_win_addr #(.AAW(AAW), .CW(CW), .NCW(NCW)) u_wa (
        .yc(yc), .xc(xc), .ym(ycm), .xm(xcm), .ibase(ibase), .blk(blk), .h_in(h_in), .w_in(w_in),
        .w3n(w3n_in), .nblk(nblk_in), .k3(k3), .addr(mb_addr), .valid(tvalid)
    );
    assign pr_raddr = {first_pass[SLW-1:0], blk[NBW-1:0]};
    // The threshold belongs to the blob's slot: latch it in the busy cycles (at the start),
    // as the slot may be refilled from the end of the scan.
    reg signed [31:0] thr_q;
    always @(posedge clk) if (go) thr_q <= threshold;
    always @(posedge clk) begin
        if (layer_init) begin
            started <= 1'b0;
            scanning <= 1'b0;
            blk <= 0;
            pcnt <= 0;
        end else if (issue) begin
            started <= 1'b1;
            scanning <= !(last_blk && last_pos);
            blk <= last_blk ? {NCW{1'b0}} : blk + 1'b1;
            if (last_blk) pcnt <= pcnt + 1'b1;
        end
    end

    // ------------------------------------------------------------------ stage 1: per-tap popcounts
    reg v1, last1, first1, lastpos1;
    reg [8:0] tv1;
    reg [1:0] ym1, xm1;
    reg [BA-1:0] cv1;
    reg [LINW-1:0] ein1;
    reg [LOUTW-1:0] eout1;
    reg [BAW-1:0] cvn1;
    wire [BA-1:0] cv_mask;
    genvar g;
    generate
        for (g = 0; g < BA; g = g + 1) begin : g_cv
            assign cv_mask[g] = !last_blk || (g < cv_last);
        end
    endgenerate
    always @(posedge clk) begin
        v1 <= issue && !layer_init;
        last1 <= last_blk;
        first1 <= (blk == 0);
        lastpos1 <= last_blk && last_pos;
        tv1 <= tvalid;
        ym1 <= ycm;
        xm1 <= xcm;
        cv1 <= cv_mask;
        cvn1 <= last_blk ? cv_last : BA[BAW-1:0];
        ein1 <= {yc, xc, ycm, xcm, ibase};
        eout1 <= {rbase, obank, obase};
        cp_en <= issue && !layer_init && copy_en;
        cp_bank <= {2'b00, ycm} * 4'd3 + {2'b00, xcm};
        cp_addr <= ibase + {{(AAW - NCW) {1'b0}}, blk};
    end
    // centre word of the position: bank (ym, xm) read in the issue cycle, written now
    assign cp_data = mb_data[cp_bank * BA +: BA];

    wire [9*BA-1:0] taps;
    wire [9*BA-1:0] pw;
    bnn_rot9 #(.X(BA)) u_rot (.bank(mb_data), .ym(ym1), .xm(xm1), .tap(taps));
    wire [9*BAW-1:0] pc;
    genvar t;
    generate
        for (t = 0; t < 9; t = t + 1) begin : g_tap
            wire [BA-1:0] x = ~(taps[t * BA +: BA] ^ pw[t * BA +: BA]) & cv1 & {BA{tv1[t]}};
            bnn_popcount #(.N(BA), .OW(BAW)) u_pc (.v(x), .cnt(pc[t * BAW +: BAW]));
        end
        // predictor entry: channel c, tap n at bit c*9 + n; regroup per tap
        for (t = 0; t < 9; t = t + 1) begin : g_pw
            for (g = 0; g < BA; g = g + 1) begin : g_c
                assign pw[t * BA + g] = pr_rdata[g * 9 + t];
            end
        end
    endgenerate
    reg v2, last2, first2, lastpos2;
    reg [BAW+3:0] pcs2;  // sum of the nine popcounts
    reg [BAW+3:0] pm2;  // valid bits of the block: taps x channels
    reg [LINW-1:0] ein2;
    reg [LOUTW-1:0] eout2;
    reg [3:0] ntv;
    reg [BAW+3:0] pcsum;
    integer m;
    always @* begin
        ntv = 4'd0;
        pcsum = {(BAW + 4) {1'b0}};
        for (m = 0; m < 9; m = m + 1) begin
            ntv = ntv + {3'b000, tv1[m]};
            pcsum = pcsum + {4'b0000, pc[m * BAW +: BAW]};
        end
    end
    always @(posedge clk) begin
        v2 <= v1 && !layer_init;
        last2 <= last1;
        first2 <= first1;
        lastpos2 <= lastpos1;
        pcs2 <= pcsum;
        pm2 <= ntv * cvn1;
        ein2 <= ein1;
        eout2 <= eout1;
    end

    // ------------------------------------------------------------------ stage 2: score
    reg signed [31:0] score;
    wire signed [31:0] blk_score = $signed({{(27 - BAW) {1'b0}}, pcs2, 1'b0}) - $signed({{(28 - BAW) {1'b0}}, pm2});
    reg v3, last3, lastpos3;
    reg [LINW-1:0] ein3;
    reg [LOUTW-1:0] eout3;
    always @(posedge clk) begin
        if (v2) score <= (first2 ? 32'sd0 : score) + blk_score;
        v3 <= v2 && !layer_init;
        last3 <= last2;
        lastpos3 <= lastpos2;
        ein3 <= ein2;
        eout3 <= eout2;
    end

    // ------------------------------------------------------------------ stage 3: list append
    wire active = v3 && last3 && (score >= thr_q);
    localparam integer COLS_M1 = COLS - 1;
    reg [TW-1:0] n_tiles;
    reg [TW-1:0] tsub;  // entries in the last tile, mod COLS
    assign list_we = active;
    assign list_waddr = list_cnt[LAW-1:0];
    assign list_win = ein3;
    assign list_wout = eout3;
    assign fin = v3 && lastpos3;
    wire [PSW-1:0] list_cnt_next = list_cnt + {{(PSW - 1) {1'b0}}, active};
    assign n_tiles_next = n_tiles + {{(TW - 1) {1'b0}}, active && (tsub == 0)};
    always @(posedge clk) begin
        if (layer_init) begin
            list_cnt <= 0;
            n_tiles <= 0;
            tsub <= 0;
            done <= 1'b0;
        end else begin
            list_cnt <= list_cnt_next;
            n_tiles <= n_tiles_next;
            if (active) tsub <= (tsub == COLS_M1[TW-1:0]) ? {TW{1'b0}} : tsub + 1'b1;
            if (fin) done <= 1'b1;
        end
    end
endmodule
`default_nettype wire
