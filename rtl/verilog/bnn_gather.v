// Window gather (docs/timing.md 4.2, "Gather", rule T1).
// Tiles: the active positions of a layer in raster order, COLS at a time; every pass
// runs all tiles; tiles are numbered u = 0, 1, ... across the passes of a layer.
// For tile u the gather copies, one (position, channel block) per cycle, the nine
// bank words of each position's 3x3 window into window buffer u mod 2 (column = the
// position's place in the tile), with the window's padding mask and bank rotation.
// Block-major: block 0 of every position of the tile (the first sweep), then block 1
// of every position, and so on, so that the PE array can start on block 0 (T2).
// It starts a tile when the layer runs, its previous tile is done, the tile's list
// entries are visible (or, for pass 0 of a masked layer, the scan has ended), and the
// PE array has finished tile u-2 (its window buffer is free).
// Positions come from the active list (masked layers; re-read in every sweep) or, when
// the mask unit is bypassed, from a raster position generator, which walks a tile's
// positions once: the first sweep records them in a COLS-entry LUT RAM, the later
// sweeps replay them from it. The input buffer's row wait applies to the first sweep.
// Pipeline: issue t (list read / position) -> t+1 bank addresses -> t+2 bank data
// into the window buffer; a block is usable by the PE array from the third cycle
// after its sweep's last issue (lambda_gather = 2): `g_first` counts the tiles whose
// first sweep is usable, `g_ready` those wholly usable.
// The gather also records, per tile, its pass, base list index and size for the PE
// array and the epilogue (8 entries: at most four tiles are in flight).
// Split tiles (SPLIT, docs/timing.md 4.2, T3): a tile of at most COLS/2 positions is
// written into both halves of the window buffer's columns at once (`wb_dup`).
`default_nettype none
module bnn_gather #(
    parameter COLS = 16,
    parameter CLW = 4,
    parameter BA = 64,
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4,
    parameter NBW = 3,
    parameter RAW = 12,
    parameter PSW = 12,
    parameter LAW = 10,
    parameter MPW = 6,
    parameter UW = 16,
    parameter LINW = 24,
    parameter SPLIT = 0  // split tiles (docs/timing.md 4.2, T3): a tile of <= COLS/2 positions fills both halves
) (
    input wire clk,
    input wire layer_init,
    input wire layer_active,
    input wire mask_en,
    input wire k3,
    input wire split_en,  // the layer's tiles may be split (T3)
    input wire s2,
    input wire in_x,  // the layer reads the input buffer: wait for LOADed rows (docs/timing.md 4.4)
    input wire [CW:0] rows_cnt,
    input wire [CW-1:0] h_in,
    input wire [CW-1:0] w_in,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_in,
    input wire [AAW-1:0] w3n_in,
    input wire [PSW-1:0] positions,
    input wire [MPW:0] n_pass,
    input wire [MPW-1:0] first_pass,
    input wire [PSW-1:0] list_cnt,
    input wire mask_done,
    input wire [UW-1:0] c_done,  // tiles the PE array has finished
    output wire [LAW-1:0] list_raddr,
    input wire [LINW-1:0] list_rdata,
    output wire [9*AAW-1:0] ga_addr,
    input wire [9*BA-1:0] ga_data,
    output reg wb_we,
    output reg wb_dup,  // the tile is split (T3): the window buffer writes column wb_col + COLS/2 too
    output reg [CLW-1:0] wb_col,
    output reg wb_buf,
    output reg [NBW-1:0] wb_blk,
    output wire [9*BA-1:0] wb_data,
    output reg [8:0] wb_mask,
    output reg [3:0] wb_rot,
    output reg [UW-1:0] g_first,  // tiles whose first channel block (first sweep) is usable (T2)
    output reg [UW-1:0] g_ready,  // tiles whose window buffer is usable
    output wire g_over,  // the layer's last tile is gathered: nothing reads its input set any more (4.5, E4 b)
    input wire [2:0] rec_idx_a,
    output wire [MPW-1:0] rec_gp_a,
    output wire [CLW:0] rec_nt_a,
    input wire [2:0] rec_idx_b,
    output wire [MPW-1:0] rec_gp_b,
    output wire [LAW-1:0] rec_tb_b,
    output wire [CLW:0] rec_nt_b
);
    // ------------------------------------------------------------------ tile choice
    reg [MPW:0] q;  // pass of the next tile
    reg [PSW-1:0] tb;  // its first list index
    reg [UW-1:0] u;  // its number
    reg busy;
    wire [PSW-1:0] nall = mask_en ? list_cnt : positions;
    wire [PSW:0] rem_here = {1'b0, nall} - {1'b0, tb};
    reg cv;
    reg [MPW:0] cq;
    reg [PSW-1:0] ctb;
    reg [CLW:0] cn;
    always @* begin
        cv = 1'b0;
        cq = q;
        ctb = tb;
        cn = COLS;
        if (mask_en && q == 0 && !mask_done) begin
            // pass 0 while the scan runs: only full tiles are certain
            cv = ({1'b0, list_cnt} >= {1'b0, tb} + COLS);
        end else if (tb < nall) begin
            cv = 1'b1;
            cn = (rem_here >= COLS) ? COLS : rem_here[CLW:0];
        end else if ((q + 1'b1 < n_pass) && (nall != 0)) begin
            cv = 1'b1;
            cq = q + 1'b1;
            ctb = 0;
            cn = (nall >= COLS) ? COLS : nall[CLW:0];
        end
    end
    // the list is final, the last pass's tiles are all issued and the last one's issue is over (from G_end)
    assign g_over = !busy && (!mask_en || mask_done) && (nall == 0 || (q + 1'b1 == n_pass && tb == nall));
    wire wb_free = (u < 2) || (c_done >= u - 1'b1);
    // Input buffer: before a position's first channel block (first sweep), its window's input rows must be loaded.
    // Checked on the raster generator's row; with a predictor the list entry of a position only
    // exists after the mask unit waited for the same rows, so the check never binds there.
    wire [CW-1:0] pyc;
    wire rows_ok = !in_x || mask_en || (rows_cnt == {1'b0, h_in}) || (rows_cnt > {1'b0, pyc} + {{CW{1'b0}}, k3});
    wire go = layer_active && !busy && cv && wb_free && rows_ok;
    wire issue = go || (busy && (blk != 0 || rows_ok));

    // ------------------------------------------------------------------ issue stage
    reg [CLW-1:0] n;
    reg [NCW-1:0] blk;
    reg [CLW:0] nt_r;
    reg [LAW-1:0] tbc_r;  // list index of the current tile's first position
    reg buf_r;
    wire [CLW:0] nt_cur = go ? cn : nt_r;
    wire [LAW-1:0] tbc_cur = go ? ctb[LAW-1:0] : tbc_r;
    wire buf_cur = go ? u[0] : buf_r;
    wire last_blk = (blk == nblk_in - 1'b1);
    wire last_n = ({1'b0, n} == nt_cur - 1'b1);
    wire sweep0 = (blk == 0);  // the first sweep: block 0 of every position
    wire tile_last = issue && last_blk && last_n;
    wire first_last = issue && sweep0 && last_n;
    assign list_raddr = tbc_cur + {{(LAW - CLW) {1'b0}}, n};

    reg [MPW-1:0] rec_gp [0:7];
    reg [LAW-1:0] rec_tb [0:7];
    reg [CLW:0] rec_nt [0:7];
    assign rec_gp_a = rec_gp[rec_idx_a];
    assign rec_nt_a = rec_nt[rec_idx_a];
    assign rec_gp_b = rec_gp[rec_idx_b];
    assign rec_tb_b = rec_tb[rec_idx_b];
    assign rec_nt_b = rec_nt[rec_idx_b];

    always @(posedge clk) begin
        if (layer_init) begin
            q <= 0;
            tb <= 0;
            u <= 0;
            busy <= 1'b0;
            n <= 0;
            blk <= 0;
        end else begin
            if (go) begin
                q <= cq;
                tb <= ctb + {{(PSW - CLW - 1) {1'b0}}, cn};
                u <= u + 1'b1;
                nt_r <= cn;
                tbc_r <= ctb[LAW-1:0];
                buf_r <= u[0];
                rec_gp[u[2:0]] <= first_pass + cq[MPW-1:0];
                rec_tb[u[2:0]] <= ctb[LAW-1:0];
                rec_nt[u[2:0]] <= cn;
            end
            if (issue) begin
                busy <= !tile_last;
                n <= last_n ? {CLW{1'b0}} : n + 1'b1;
                if (last_n) blk <= last_blk ? {NCW{1'b0}} : blk + 1'b1;
            end
        end
    end

    // raster positions for layers without a predictor
    wire [CW-1:0] pxc;
    wire [1:0] pym, pxm;
    wire [AAW-1:0] pib;
    /* verilator lint_off PINCONNECTEMPTY */
    // the output-side outputs of the shared position generator are not needed here
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_pos (
        .clk(clk), .init(layer_init), .adv(issue && sweep0 && !mask_en), .s2(s2),
        .h_out(h_out), .w_out(w_out), .nblk_in(nblk_in), .w3n_in(w3n_in),
        .nblk_out(nblk_in), .w3n_out(w3n_in), .nwo({RAW{1'b0}}),
        .yc(pyc), .xc(pxc), .ycm(pym), .xcm(pxm), .ibase(pib), .rbase(), .obank(), .obase()
    );
    /* verilator lint_on PINCONNECTEMPTY */
    // the tile's raster positions, recorded in the first sweep and replayed in the later ones
    wire [LINW-1:0] pos_gen = {pyc, pxc, pym, pxm, pib};
    wire [LINW-1:0] pos_rep;
    bnn_lutram #(.W(LINW), .AW(CLW), .DEPTH(COLS)) u_rep (
        .clk(clk), .we(issue && sweep0 && !mask_en), .waddr(n), .wdata(pos_gen), .raddr(n), .rdata(pos_rep)
    );

    // ------------------------------------------------------------------ stage 1: bank addresses
    reg v1, last1, first1, buf1, dup1;
    reg [CLW-1:0] col1;
    reg [NCW-1:0] blk1;
    reg [LINW-1:0] pos1;
    always @(posedge clk) begin
        v1 <= issue && !layer_init;
        last1 <= tile_last;
        first1 <= first_last;
        buf1 <= buf_cur;
        col1 <= n;
        dup1 <= (SPLIT != 0) && split_en && ({nt_cur, 1'b0} <= COLS);
        blk1 <= blk;
        pos1 <= sweep0 ? pos_gen : pos_rep;
    end
    wire [LINW-1:0] ent = mask_en ? list_rdata : pos1;
    wire [CW-1:0] eyc = ent[LINW-1 -: CW];
    wire [CW-1:0] exc = ent[LINW-1-CW -: CW];
    wire [1:0] eym = ent[AAW+3 -: 2];
    wire [1:0] exm = ent[AAW+1 -: 2];
    wire [AAW-1:0] eib = ent[AAW-1:0];
    wire [8:0] tvalid;
    bnn_win_addr #(.AAW(AAW), .CW(CW), .NCW(NCW)) u_wa (
        .yc(eyc), .xc(exc), .ym(eym), .xm(exm), .ibase(eib), .blk(blk1), .h_in(h_in), .w_in(w_in),
        .w3n(w3n_in), .nblk(nblk_in), .k3(k3), .addr(ga_addr), .valid(tvalid)
    );

    // ------------------------------------------------------------------ stage 2: window buffer write
    reg last2, first2;
    always @(posedge clk) begin
        wb_we <= v1 && !layer_init;
        last2 <= v1 && last1 && !layer_init;
        first2 <= v1 && first1 && !layer_init;
        wb_col <= col1;
        wb_dup <= dup1;
        wb_buf <= buf1;
        wb_blk <= blk1[NBW-1:0];
        wb_mask <= tvalid;
        wb_rot <= {eym, exm};
    end
    assign wb_data = ga_data;
    always @(posedge clk) begin
        if (layer_init) begin
            g_first <= 0;
            g_ready <= 0;
        end else begin
            if (first2) g_first <= g_first + 1'b1;
            if (last2) g_ready <= g_ready + 1'b1;
        end
    end
endmodule
`default_nettype wire
